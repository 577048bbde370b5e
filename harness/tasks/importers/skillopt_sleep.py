"""Import SkillOpt-Sleep task files (``skillopt_sleep.tasks.v1``) as a harness suite.

Mapping, and why:

* splits: ``train`` -> ``train``; ``val`` -> ``heldout`` (SkillOpt's val set is the one
  its gate decides on, which is our held-out role); ``test`` -> ``frozen`` (never used
  for decisions, kept for a final untouched measurement). Legacy names ``replay`` and
  ``holdout`` map like ``train`` and ``val``.
* prompt: ``intent``, followed by ``context_excerpt`` when present.
* checks by ``reference_kind``: ``exact`` -> ``contains`` of the reference (SkillOpt
  scores exact as "normalized reference appears in the answer"); ``rubric`` ->
  ``rubric`` (the rubric text plus the reference answer); ``rule`` -> the judge's rule
  checks mapped like gbrain's; ``none`` -> ``no_refusal`` (the only thing checkable).
* ``"reviewed": false`` files are imported but every task is marked
  ``meta.reviewed: false`` and tagged ``unreviewed``; :func:`ensure_reviewed` (and
  ``require_reviewed=True`` here) refuses them for live models. A bare list carries no
  flag and is accepted as the same format, marked ``meta.reviewed: null``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, LocatedError, ValidationFailed
from harness.tasks.importers.common import (
    ImportResult,
    map_judge,
    prepare_dest,
    write_suite,
)

FORMAT = "skillopt_sleep.tasks.v1"
SPLIT_MAP = {"train": "train", "replay": "train", "val": "heldout", "holdout": "heldout",
             "test": "frozen"}


def read_file(path: Path) -> tuple[list[dict[str, Any]], bool | None]:
    """The TaskRecords of one file and its ``reviewed`` flag (None for a bare list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed(str(path), [LocatedError(f"{path}:{exc.lineno}",
                                                        f"invalid JSON: {exc.msg}")]) from exc
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a {FORMAT} file (expected an envelope with "
                          f"\"format\": \"{FORMAT}\" or a bare list of tasks)")
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        raise ConfigError(f"{path}: \"tasks\" must be a list")
    reviewed = data.get("reviewed")
    return tasks, reviewed if isinstance(reviewed, bool) else False


def refuse_unreviewed(path: Path, reviewed: bool | None) -> None:
    """Raise with a one-line reason when a file is explicitly not reviewed."""
    if reviewed is False:
        raise ConfigError(f"{path}: marked \"reviewed\": false; SkillOpt-Sleep task files "
                          "must be reviewed by a person before a live model sees them")


def _checks(rec: dict[str, Any], where: str) -> list[dict[str, Any]]:
    kind = rec.get("reference_kind", "none")
    reference = rec.get("reference") or ""
    rubric = rec.get("rubric") or ""
    judge = rec.get("judge") or {}
    checks: list[dict[str, Any]] = []
    if kind == "exact" and reference:
        checks.append({"op": "contains", "value": str(reference), "name": "exact reference"})
    elif kind == "rubric" and (rubric or reference):
        text = str(rubric or "Grade the answer against the reference answer.")
        if reference:
            text += f"\n\nReference answer:\n{reference}"
        checks.append({"op": "rubric", "rubric": text})
    elif kind == "rule" and not (isinstance(judge, dict) and judge.get("checks")):
        raise ValidationFailed("skillopt", [LocatedError(where, "reference_kind 'rule' "
                                                                "without judge checks")])
    elif kind not in ("exact", "rubric", "rule", "none"):
        raise ValidationFailed("skillopt", [LocatedError(
            where, f"unknown reference_kind {kind!r} (exact, rubric, rule, none)")])
    if isinstance(judge, dict) and judge.get("checks"):
        checks.extend(map_judge({"kind": "rule", **judge}, where))
    if not checks:
        checks.append({"op": "no_refusal"})
    return checks


def to_task(rec: Any, where: str, *, reviewed: bool | None, source: Path) -> dict[str, Any]:
    """One TaskRecord as a ``harness.task/v1`` dict."""
    if not isinstance(rec, dict):
        raise ValidationFailed("skillopt", [LocatedError(where, "a task must be an object")])
    missing = [k for k in ("id", "intent") if not rec.get(k)]
    if missing:
        raise ValidationFailed("skillopt", [LocatedError(where, f"missing {missing[0]!r}")])
    split = str(rec.get("split") or "train")
    if split not in SPLIT_MAP:
        raise ValidationFailed("skillopt", [LocatedError(
            where, f"unknown split {split!r} (train, val, test)")])
    prompt = str(rec["intent"])
    if rec.get("context_excerpt"):
        prompt += f"\n\nContext:\n{rec['context_excerpt']}"
    tags = [str(t) for t in rec.get("tags") or []]
    if reviewed is False:
        tags.append("unreviewed")
    return {
        "id": str(rec["id"]),
        "split": SPLIT_MAP[split],
        "tags": tags,
        "prompt": prompt,
        "checks": _checks(rec, where),
        "meta": {
            "source": FORMAT,
            "source_file": source.name,
            "source_split": split,
            "reviewed": reviewed,
            "project": rec.get("project"),
            "reference_kind": rec.get("reference_kind"),
            "outcome": rec.get("outcome"),
        },
    }


def import_skillopt_sleep(
    src: Path, dest: Path, *, require_reviewed: bool = False, force: bool = False
) -> ImportResult:
    """Import one task file, or every ``*.json`` in a folder, into one suite at ``dest``.

    ``require_reviewed`` refuses files marked ``"reviewed": false`` (for live models).
    Every bad record is reported at once.
    """
    files = sorted(src.glob("*.json")) if src.is_dir() else [src]
    if not files:
        raise ConfigError(f"{src}: no *.json task files")
    tasks: list[dict[str, Any]] = []
    errors: list[LocatedError] = []
    notes: list[str] = []
    for f in files:
        records, reviewed = read_file(f)
        if require_reviewed:
            refuse_unreviewed(f, reviewed)
        if reviewed is False:
            notes.append(f"{f.name}: \"reviewed\": false; tasks marked unreviewed "
                         "(refused for live models)")
        elif reviewed is None:
            notes.append(f"{f.name}: bare list without a \"reviewed\" flag")
        for i, rec in enumerate(records):
            try:
                tasks.append(to_task(rec, f"{f}: tasks[{i}]", reviewed=reviewed, source=f))
            except ValidationFailed as exc:
                errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(f"import {src}", errors)
    prepare_dest(dest, force=force)
    name = src.stem if src.is_file() else src.name
    suite = write_suite(dest, tasks, {"name": f"skillopt-sleep-{name}",
                                      "description": f"Imported from {FORMAT} ({src.name})"})
    return ImportResult(dest=dest, suites=[suite], notes=notes)
