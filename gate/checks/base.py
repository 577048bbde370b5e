"""The Check seam: argument declarations, the verdict value, and shared helpers.

A check implementation is mostly data (its parameters, declared once so validation can name
every bad field before anything runs) plus one ``run`` method. ``run`` returns a
:class:`Verdict`; it raises only for bugs. Anything a trial did wrong is ``passed=False``;
anything the *machinery* could not judge (no sandbox, judge unreachable) is ``passed=None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from gate.models import TrialEvidence

Kind = Literal["str", "int", "number", "bool", "str_list", "cmd", "flags"]

_KIND_WORDS: dict[str, str] = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "str_list": "a list of strings",
    "cmd": "a string or a list of strings",
    "flags": "a combination of the letters i, m, s, x",
}


@dataclass(frozen=True)
class Param:
    """One argument of a check op: its kind, whether required, and its default."""

    kind: Kind
    required: bool = True
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What one check concluded; ``passed=None`` means could not be judged."""

    passed: bool | None
    score: float
    reason: str

    @classmethod
    def of(cls, ok: bool, reason: str) -> Verdict:
        return cls(ok, 1.0 if ok else 0.0, reason)

    @classmethod
    def unscorable(cls, reason: str) -> Verdict:
        return cls(None, 0.0, reason)


@dataclass(frozen=True)
class CheckContext:
    """Settings that are not part of a check spec: the rubric judge's endpoint and cache."""

    judge_base_url: str | None = None
    judge_api_key: str = "unused"
    judge_model: str = "claude-sonnet-4-6"
    judge_cache_dir: Path | None = None
    judge_max_attempts: int = 3
    judge_timeout_sec: float = 60.0
    judge_retry_wait_sec: float = 0.5
    extra: Mapping[str, Any] = field(default_factory=dict)


class CheckImpl(Protocol):
    """What the registry resolves an op to (built-ins and ``module:Class`` user checks)."""

    params: ClassVar[Mapping[str, Param]]

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Op-specific problems beyond kinds: ``[(field, message)]``."""
        ...

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        """Judge one trial; args already have defaults applied."""
        ...


class BaseCheck:
    """Defaults for implementations: no extra validation."""

    params: ClassVar[Mapping[str, Param]] = {}

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        return []


def kind_error(kind: Kind, value: Any) -> str | None:
    """Why ``value`` is not of ``kind``, or None. bool is never accepted as a number."""
    ok: bool
    if kind == "str":
        ok = isinstance(value, str)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str_list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == "cmd":
        ok = isinstance(value, str) or (
            isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
        )
    else:  # flags
        ok = isinstance(value, str) and set(value) <= set(_FLAG_LETTERS)
    if ok:
        return None
    return f"expected {_KIND_WORDS[kind]}, got {type(value).__name__} {value!r}"


_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_FLAG_LETTERS = "imsx"


def compile_regex(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile with letter flags; raises ``re.error`` for the caller to locate."""
    bits = 0
    for letter in flags:
        bits |= _FLAG_BITS[letter]
    return re.compile(pattern, bits)


def regex_problem(pattern: Any, flags: str = "") -> str | None:
    """Why a pattern does not compile, so validation can name it before anything runs."""
    if not isinstance(pattern, str):
        return None  # kind validation reports it
    try:
        compile_regex(pattern, flags)
    except re.error as exc:
        return f"bad regex {pattern!r}: {exc}"
    return None


def clip(text: str, limit: int = 160) -> str:
    """Shorten evidence quoted in a reason, so reports stay readable."""
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
