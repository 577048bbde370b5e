"""Shared parts of the importers: judge mapping and writing a suite folder.

Why every importer ends by loading what it wrote: the output must be a valid
``harness.task/v1`` suite, and the loader is the one judge of that. An importer that
writes something the loader rejects fails loudly at import time, not at run time.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError, LocatedError, ValidationFailed
from harness.tasks.loader import load_suite
from harness.tasks.schema import SCHEMA_ID, SUITE_SCHEMA_ID
from harness.tasks.suite import Suite

# Order of keys in written task files: what a person reads first comes first.
_KEY_ORDER = ("schema", "id", "split", "tags", "prompt", "turns", "workspace", "setup",
              "tools", "checks", "timeout_sec", "agents", "script", "policy", "image", "dockerfile",
              "build_context", "tests", "oracle", "meta")


@dataclass
class ImportResult:
    """What an import wrote: the suite folders (loaded back) and notes for the person."""

    dest: Path
    suites: list[Suite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def task_count(self) -> int:
        return sum(len(s) for s in self.suites)


def _as_int(arg: Any) -> int:
    """An integer from 1200, 1200.0 or "1200"; anything else (bools too) is refused."""
    if isinstance(arg, float) and arg.is_integer():
        return int(arg)
    if isinstance(arg, bool) or not isinstance(arg, (int, str)):
        raise TypeError(f"not an integer: {arg!r}")
    return int(str(arg).strip())


def map_rule_check(check: Any, where: str, citation_pattern: str | None = None) -> dict[str, Any]:
    """One gbrain/SkillOpt rule check (``{"op", "arg"}``) in the gate's vocabulary.

    Regexes that anchor with ``^``/``$`` get the ``m`` flag: the stricter held-out judges
    anchor headings and labels per line (``^#{1,6} +Key Risks``), which only makes sense
    line by line; for patterns without anchors the flag changes nothing.
    """
    if not isinstance(check, dict) or not isinstance(check.get("op"), str):
        raise ValidationFailed("judge", [LocatedError(where, f"not a rule check: {check!r}")])
    op, arg = check["op"], check.get("arg")
    simple = {"contains": "value", "not_contains": "value", "section_present": "heading",
              "tool_called": "tool", "tool_not_called": "tool"}
    if op in simple:
        return {"op": op, simple[op]: str(arg)}
    if op == "regex":
        out: dict[str, Any] = {"op": "regex", "pattern": str(arg)}
        if re.search(r"(?<!\\)[\^$]", str(arg)):
            out["flags"] = "m"
        return out
    if op in ("max_chars", "min_chars", "min_citations"):
        try:
            value = _as_int(arg)
        except (TypeError, ValueError):
            raise ValidationFailed("judge", [LocatedError(
                where, f"{op} needs an integer arg, got {arg!r}")]) from None
        out = {"op": op, "value": value}
        if op == "min_citations" and citation_pattern:
            out["pattern"] = citation_pattern
        return out
    if op == "no_refusal":
        return {"op": "no_refusal"}
    raise ValidationFailed("judge", [LocatedError(where, f"unknown rule op {op!r}")])


def map_judge(judge: Any, where: str, citation_pattern: str | None = None) -> list[dict[str, Any]]:
    """A gbrain-style judge (``rule`` / ``llm`` / ``qrels``) as a list of check specs."""
    if not isinstance(judge, dict):
        raise ValidationFailed("judge", [LocatedError(where, "judge must be an object")])
    kind = judge.get("kind", "rule" if "checks" in judge else None)
    if kind == "rule":
        return [map_rule_check(c, where, citation_pattern) for c in judge.get("checks") or []]
    if kind == "llm":
        text = judge.get("rubric") or judge.get("criteria") or judge.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("judge", [LocatedError(where, "llm judge without a rubric")])
        out: dict[str, Any] = {"op": "rubric", "rubric": text}
        if isinstance(judge.get("threshold"), (int, float)):
            out["threshold"] = judge["threshold"]
        return [out]
    if kind == "qrels":
        return [{"op": "qrels", "expected_slugs": list(judge.get("expected_slugs") or []),
                 "k": int(judge.get("k", 5))}]
    raise ValidationFailed("judge", [LocatedError(where, f"unknown judge kind {kind!r}")])


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so prompts and scripts stay readable."""


def _str_repr(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # YAML readers fold NEL / line and paragraph separators; only escapes keep them
    if any(c in data for c in "\x85\u2028\u2029") or any(
            ord(c) < 32 and c != "\n" for c in data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    if "\n" in data and data == data.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_repr)


def dump_yaml(data: Any) -> str:
    """YAML text as the importers write it (key order kept, unicode kept, wide lines)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def ordered_task(task: dict[str, Any]) -> dict[str, Any]:
    """A task dict with ``schema`` first and keys in reading order; empty values dropped."""
    full = {"schema": SCHEMA_ID, **task}
    keys = [k for k in _KEY_ORDER if k in full] + [k for k in full if k not in _KEY_ORDER]
    return {k: full[k] for k in keys if full[k] not in (None, [], {})}


def prepare_dest(dest: Path, *, force: bool) -> None:
    """Refuse to write into a non-empty folder unless ``force`` (then it is replaced)."""
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise ConfigError(f"{dest} is not empty", hint="choose another folder or --force")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)


def write_suite(
    dest: Path, tasks: list[dict[str, Any]], config: dict[str, Any], *, subdir: str = "tasks"
) -> Suite:
    """Write ``suite.yaml`` and one file per task under ``subdir``; load it back."""
    ids = [str(t["id"]) for t in tasks]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise ValidationFailed(f"import into {dest}", [
            LocatedError(str(dest), f"duplicate task id {d!r}") for d in dups])
    (dest / subdir).mkdir(parents=True, exist_ok=True)
    cfg = {"schema": SUITE_SCHEMA_ID, **{k: v for k, v in config.items() if v not in
                                          (None, [], {})}}
    (dest / "suite.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
    for task in tasks:
        path = dest / subdir / f"{task['id']}.yaml"
        path.write_text(dump_yaml(ordered_task(task)), encoding="utf-8")
    return load_suite(dest)


def ensure_reviewed(suite: Suite) -> None:
    """Refuse tasks an importer marked unreviewed (``meta.reviewed: false``).

    The runner calls this before sending tasks to a live model: mined task files can hold
    private or wrong data until a person has looked at them.
    """
    bad = [t for t in suite.tasks if t.meta.get("reviewed") is False]
    if bad:
        src = bad[0].meta.get("source_file", bad[0].source)
        raise ConfigError(
            f"{len(bad)} task(s) come from a file marked \"reviewed\": false ({src}); "
            "live models only get reviewed tasks",
            hint="review the file, set \"reviewed\": true, and import it again",
        )
