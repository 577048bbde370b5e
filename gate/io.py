"""Read trial records from a run directory or a JSON file, naming every bad record at once.

Accepted shapes (until the runner's store lands, and for CI artifacts afterwards):
a JSON list of records, ``{"trials": [...]}``, or JSON Lines; a run directory holding
``trials.json`` or ``trials.jsonl``. A run directory may also hold ``variants/<name>/``
with each variant's skill files, which the structural check and ``stage`` read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gate.decision import GatePolicy
from gate.models import TrialRecord
from harness.errors import ConfigError, LocatedError, ValidationFailed

TRIAL_FILES = ("trials.json", "trials.jsonl")


def trials_file(path: Path) -> Path:
    """The records file for a run directory or file argument."""
    if path.is_dir():
        for name in TRIAL_FILES:
            if (path / name).is_file():
                return path / name
        raise ConfigError(f"{path} holds no {' or '.join(TRIAL_FILES)}")
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    return path


def _raw_records(path: Path) -> list[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append((f"{path}:{n}", json.loads(line)))
                except ValueError as exc:
                    raise ValidationFailed(
                        f"bad trial records in {path}", [LocatedError(f"{path}:{n}", str(exc))]
                    ) from exc
        return out
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from exc
    if isinstance(data, dict) and "trials" in data:
        data = data["trials"]
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of trial records or {{'trials': [...]}}")
    return [(f"{path}:trials[{i}]", r) for i, r in enumerate(data)]


def load_trials(path: Path) -> list[TrialRecord]:
    """All records, or ValidationFailed listing each bad record's field."""
    src = trials_file(path)
    records, errors = [], []
    for where, raw in _raw_records(src):
        try:
            records.append(TrialRecord.model_validate(raw))
        except ValidationError as exc:
            for e in exc.errors():
                loc = ".".join(str(x) for x in e["loc"])
                errors.append(LocatedError(f"{where}.{loc}" if loc else where, e["msg"]))
    if errors:
        raise ValidationFailed(f"bad trial records in {src}", errors)
    if not records:
        raise ConfigError(f"{src} holds no trial records")
    return records


def load_policy(path: Path | None) -> GatePolicy:
    """Gate thresholds from a YAML or JSON file (JSON is YAML); every bad field named."""
    if path is None:
        return GatePolicy()
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read policy {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"bad gate policy {path}", [LocatedError(str(path), f"YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise ValidationFailed(f"bad gate policy {path}", [LocatedError(str(path), "expected a mapping")])
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as exc:
        errors = [
            LocatedError(f"{path}:{'.'.join(str(x) for x in e['loc'])}", e["msg"])
            for e in exc.errors()
        ]
        raise ValidationFailed(f"bad gate policy {path}", errors) from exc


def read_text_files(root: Path) -> dict[str, str]:
    """A variant folder as {relative path: text}; binary files are skipped."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            try:
                out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return out
