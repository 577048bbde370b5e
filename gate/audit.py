"""The audit log beside the live files: one JSON line per adopt and per rollback.

Why a file beside the live skill (and not only the store): the live files may be edited by
the nightly on a schedule, by a person at the terminal, or from CI, each with its own runs
folder; the one place all of them share is the live skill itself. Anyone who finds a changed
skill finds next to it who changed it, when, from which run and candidate, and why.

Where it goes (:func:`audit_path`): ``.harness-audit.jsonl`` in the live root, except when
the live root is itself one skill (``SKILL.md`` at its top): every file in a skill folder is
part of the skill (``harness run --variant`` installs them all), so the log goes one folder
up, beside the skill folder. In a folder of skills or beside ``CLAUDE.md`` / ``AGENTS.md`` a
top-level ``.jsonl`` is read by nobody (``gate.skill_layout`` and the runner's variant loader
take only ``SKILL.md`` folders and the memory files there).

Why the entry is a function of the manifest (:func:`entry_for`): ``adopt`` / ``rollback``
append it here, and the CLI or the nightly records the same entry into the store's ``audit``
table (``harness.nightly.audit``); the time is the manifest's ``adopted_at`` /
``rolled_back_at``, so both copies agree without passing the entry around. The gate may not
import the runner, so this module only writes the file.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import GateError

if TYPE_CHECKING:
    from gate.staging import Manifest

AUDIT_FILE = ".harness-audit.jsonl"
#: layouts whose live root is one skill folder (or the folder of a SKILL.md file)
_SKILL_ROOTS = ("one skill folder", "a SKILL.md file")

Action = Literal["adopt", "rollback"]


class AuditFile(BaseModel):
    """One live file an action changed, by SHA-256 (``None``: the file is absent)."""

    model_config = ConfigDict(extra="forbid")

    path: str            # relative to the live root
    before: str | None
    after: str | None


class AuditEntry(BaseModel):
    """One adopt or rollback: who, when, what, from where, and why."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["harness.audit.v1"] = "harness.audit.v1"
    time: datetime
    action: Action
    stage_dir: str
    live_root: str
    audit_file: str      # the JSONL file beside the live files this entry is appended to
    run_id: str
    candidate: str
    files: list[AuditFile]
    reason: str = ""
    night_id: str | None = None
    project: str | None = None
    user: str = ""
    forced: bool = False  # a rollback with --force: ``before`` is what adopt wrote, not re-read


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def audit_path(live_root: Path, layout: str) -> Path:
    """Where the audit log of the skill at ``live_root`` (read as ``layout``) lives."""
    root = Path(live_root)
    return root.parent / AUDIT_FILE if layout in _SKILL_ROOTS else root / AUDIT_FILE


def entry_for(m: Manifest, action: Action, stage_dir: Path, *, reason: str = "",
              night_id: str | None = None, project: str | None = None,
              forced: bool = False) -> AuditEntry:
    """The entry for an adopt / rollback the manifest ``m`` records as done."""
    when = m.adopted_at if action == "adopt" else m.rolled_back_at
    if when is None:
        raise GateError(f"{stage_dir} records no {action} time; nothing to audit")
    changes = m.changes()
    if action == "adopt":
        files = [AuditFile(path=f.path, before=f.live_sha256, after=f.candidate_sha256)
                 for f in changes]
    else:
        files = [AuditFile(path=f.path, before=f.candidate_sha256, after=f.live_sha256)
                 for f in changes]
    return AuditEntry(time=when, action=action, stage_dir=str(Path(stage_dir).resolve()),
                      live_root=m.live_root,
                      audit_file=str(audit_path(Path(m.live_root), m.layout)),
                      run_id=m.run_id, candidate=m.candidate,
                      files=files, reason=reason, night_id=night_id, project=project,
                      user=_user(), forced=forced)


def append(entry: AuditEntry, path: Path) -> Path:
    """Append one line with a single ``O_APPEND`` write (two writers never interleave a line)."""
    line = (entry.model_dump_json() + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise GateError(
            f"the {entry.action} of {entry.candidate} is done, but the audit log {path} could "
            f"not be written: {exc.strerror}",
            hint="make that folder writable; the stage folder's manifest.json records the "
            f"{entry.action}",
        ) from exc
    return path


def log(m: Manifest, action: Action, stage_dir: Path, *, reason: str = "",
        night_id: str | None = None, project: str | None = None,
        forced: bool = False) -> AuditEntry:
    """Build the entry for ``m`` and append it beside the live files: the one call adopt and
    rollback make."""
    entry = entry_for(m, action, stage_dir, reason=reason, night_id=night_id,
                      project=project, forced=forced)
    append(entry, Path(entry.audit_file))
    return entry


def read(path: Path) -> list[AuditEntry]:
    """Every entry in an audit log, oldest first; a torn or foreign line is skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(AuditEntry.model_validate(json.loads(line)))
        except ValueError:
            continue
    return out
