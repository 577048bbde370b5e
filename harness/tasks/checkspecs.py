"""Validating check specs before anything runs.

The gate owns the check vocabulary and exposes ``gate.checks.validate_checks``; when it is
importable we defer to it, so there is one source of truth. Until then (or in a checkout
without the gate) a small table of op names and fields here catches the mistakes that
would otherwise surface only after a container ran: an unknown op, a missing field, a
regex that does not compile, a string where a number belongs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.errors import LocatedError

# op -> (required fields, optional fields); each field -> accepted python types.
_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_LIST = (list,)
_COMMON: dict[str, tuple[type, ...]] = {"op": _STR, "name": _STR, "weight": _NUM}
OPS: dict[str, tuple[dict[str, tuple[type, ...]], dict[str, tuple[type, ...]]]] = {
    "contains": ({"value": _STR}, {}),
    "not_contains": ({"value": _STR}, {}),
    "regex": ({"pattern": _STR}, {"flags": _STR}),
    "section_present": ({"heading": _STR}, {}),
    "section_contains": ({"heading": _STR, "value": _STR}, {}),
    "max_chars": ({"value": _INT}, {}),
    "min_chars": ({"value": _INT}, {}),
    "no_refusal": ({}, {}),
    "min_citations": ({"value": _INT}, {"pattern": _STR}),
    "qrels": ({"expected_slugs": _LIST, "k": _INT}, {}),
    "file_exists": ({"path": _STR}, {}),
    "file_contains": ({"path": _STR}, {"value": _STR, "pattern": _STR}),
    "diff_touches": ({"paths": _LIST}, {}),
    "diff_not_touches": ({"paths": _LIST}, {}),
    "command": ({"cmd": _STR}, {"expect_exit": _INT, "timeout_sec": _NUM}),
    "tests": ({"cmd": _STR}, {"format": _STR, "junit_path": _STR, "timeout_sec": _NUM}),
    "tool_called": ({"tool": _STR}, {"args_match": _STR}),
    "tool_not_called": ({"tool": _STR}, {"args_match": _STR}),
    "max_turns": ({"value": _INT}, {}),
    "max_tokens": ({"value": _INT}, {}),
    "rubric": ({"rubric": _STR}, {"threshold": _NUM, "model": _STR}),
}
_REGEX_FIELDS = ("pattern", "args_match")
_FLAG_CHARS = set("imsx")

Validator = Callable[[list[dict[str, Any]], str], list[LocatedError]]


def _gate_validator() -> Validator | None:
    """The gate's validator when the gate package provides one."""
    try:
        from gate.checks import validate_checks  # type: ignore[import-not-found]
    except ImportError:
        return None
    return validate_checks  # type: ignore[no-any-return]


def _type_name(types: tuple[type, ...]) -> str:
    return {_STR: "a string", _INT: "an integer", _NUM: "a number", _LIST: "a list"}.get(
        types, "/".join(t.__name__ for t in types)
    )


def _check_one(spec: Any, where: str) -> list[LocatedError]:
    if not isinstance(spec, dict):
        return [LocatedError(where, f"a check must be a mapping, got {type(spec).__name__}")]
    op = spec.get("op")
    if not isinstance(op, str):
        return [LocatedError(f"{where}.op", "missing")]
    if op not in OPS:
        known = ", ".join(sorted(OPS))
        return [LocatedError(f"{where}.op", f"unknown check op {op!r} (known: {known})")]
    required, optional = OPS[op]
    allowed = {**_COMMON, **required, **optional}
    errs: list[LocatedError] = []
    for field in required:
        if field not in spec:
            errs.append(LocatedError(f"{where}.{field}", f"required by {op!r}"))
    for field, value in spec.items():
        if field not in allowed:
            errs.append(LocatedError(
                f"{where}.{field}", f"unknown field for {op!r} (allowed: "
                                    f"{', '.join(sorted(allowed))})"))
            continue
        types = allowed[field]
        if isinstance(value, bool) or not isinstance(value, types):
            errs.append(LocatedError(f"{where}.{field}", f"must be {_type_name(types)}, "
                                                         f"got {value!r}"))
    if errs:
        return errs
    errs.extend(_semantic(op, spec, where))
    return errs


def _semantic(op: str, spec: dict[str, Any], where: str) -> list[LocatedError]:
    """Value checks beyond types: regexes compile, counts are sane, formats known."""
    errs: list[LocatedError] = []
    for field in _REGEX_FIELDS:
        if field in spec:
            try:
                re.compile(spec[field])
            except re.error as exc:
                errs.append(LocatedError(f"{where}.{field}", f"{spec[field]!r} does not "
                                                             f"compile: {exc}"))
    if "flags" in spec and not set(spec["flags"]) <= _FLAG_CHARS:
        errs.append(LocatedError(f"{where}.flags", f"{spec['flags']!r} may only use "
                                                   f"{''.join(sorted(_FLAG_CHARS))}"))
    if "value" in spec and isinstance(spec["value"], int) and spec["value"] < 0:
        errs.append(LocatedError(f"{where}.value", "must be >= 0"))
    if op == "file_contains" and ("value" in spec) == ("pattern" in spec):
        errs.append(LocatedError(where, "file_contains: give exactly one of 'value' or "
                                        "'pattern'"))
    if op == "qrels":
        if spec["k"] < 1:
            errs.append(LocatedError(f"{where}.k", "must be >= 1"))
        if not spec["expected_slugs"] or not all(isinstance(s, str) for s in
                                                 spec["expected_slugs"]):
            errs.append(LocatedError(f"{where}.expected_slugs", "must be a non-empty list "
                                                                "of strings"))
    if op in ("diff_touches", "diff_not_touches") and not all(
            isinstance(p, str) for p in spec["paths"]):
        errs.append(LocatedError(f"{where}.paths", "must be a list of glob strings"))
    if op == "tests" and spec.get("format", "pytest") not in ("pytest", "junit"):
        errs.append(LocatedError(f"{where}.format", "must be 'pytest' or 'junit'"))
    if "weight" in spec and spec["weight"] < 0:
        errs.append(LocatedError(f"{where}.weight", "must be >= 0"))
    return errs


def fallback_validate_checks(specs: list[Any], where: str) -> list[LocatedError]:
    """The local validator, with the gate's signature: errors at ``{where}.checks[i]``."""
    out: list[LocatedError] = []
    for i, spec in enumerate(specs):
        out.extend(_check_one(spec, f"{where}.checks[{i}]"))
    return out


_INDEX = re.compile(r"\.checks\[(\d+)\]")


def validate_check_list(
    specs: list[Any],
    prefix: str,
    where_of: Callable[[int], str],
    *,
    validator: Validator | None = None,
) -> list[LocatedError]:
    """Validate specs with the gate's validator (or the fallback) and place each error.

    The validators locate errors by field (``t1.checks[2].pattern``); ``where_of(i)`` turns
    the check index into ``file:line``, so the message keeps the field and the location
    gains the line.
    """
    check = validator or _gate_validator() or fallback_validate_checks
    out: list[LocatedError] = []
    for err in check(list(specs), prefix):
        m = _INDEX.search(err.where)
        loc = where_of(int(m.group(1))) if m else where_of(-1)
        out.append(LocatedError(loc, f"{err.where}: {err.message}"))
    return out
