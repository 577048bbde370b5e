"""The store's copy of the audit log: an ``audit`` table in the runs database.

Why a table as well as the JSONL file beside the live files (``gate.audit``): ``harness
nightly report`` lists adopted and rolled-back edits per project across nights with one
query, next to the ``nights`` rows, without having to know where every live skill lives.
The gate writes the file (it may not import the runner); the CLI commands and the nightly
record the same entry here (``gate.audit.entry_for`` rebuilds it from the manifest).

The nightly calls :func:`adopt` / :func:`rollback` here, which do both: ``gate.staging``'s
adopt or rollback (which appends the JSONL line) and :func:`record` of the same entry.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gate import staging
from gate.audit import AuditEntry, entry_for
from harness.errors import ConfigError
from harness.runner.store import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, action TEXT NOT NULL,
  project TEXT, night_id TEXT, stage_dir TEXT NOT NULL, run_id TEXT NOT NULL,
  candidate TEXT NOT NULL, entry_json TEXT NOT NULL,
  UNIQUE (action, stage_dir, time)
);
CREATE INDEX IF NOT EXISTS audit_project ON audit(project, time);
"""


def record(db_path: Path, entry: AuditEntry) -> None:
    """Add one entry (recording the same adopt or rollback twice keeps one row)."""
    db_path = Path(db_path)
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(db_path)
        try:
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT OR IGNORE INTO audit (time, action, project, night_id, stage_dir,"
                " run_id, candidate, entry_json) VALUES (?,?,?,?,?,?,?,?)",
                (entry.time.timestamp(), entry.action, entry.project, entry.night_id,
                 entry.stage_dir, entry.run_id, entry.candidate, entry.model_dump_json()),
            )
            db.execute("COMMIT")
        finally:
            db.close()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"the {entry.action} of {entry.candidate} is done and in the audit log beside the "
            f"live files, but the store {db_path} could not record it: {exc}",
            hint="pass --runs-dir with a writable runs folder",
        ) from exc


def entries(db_path: Path, project: str | None = None) -> list[AuditEntry]:
    """Entries oldest first; with ``project``, those recorded for it or for one of its nights
    (an adopt by hand names no project and is listed only without ``project``)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        return []
    db = connect(db_path)
    try:
        db.executescript(_SCHEMA)
        sql = "SELECT entry_json FROM audit"
        args: tuple[str, ...] = ()
        if project is not None:
            has_nights = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='nights'").fetchone()
            sql += " WHERE project=?"
            args = (project,)
            if has_nights:
                sql += " OR night_id IN (SELECT night_id FROM nights WHERE project=?)"
                args = (project, project)
        rows = db.execute(sql + " ORDER BY time, id", args).fetchall()
    finally:
        db.close()
    return [AuditEntry.model_validate_json(r[0]) for r in rows]


def adopt(db_path: Path, stage_dir: Path, *, reason: str, night_id: str | None = None,
          project: str | None = None) -> staging.Manifest:
    """``gate.staging.adopt``, logged in both places (a drop-in: the same manifest back)."""
    m = staging.adopt(stage_dir, reason=reason, night_id=night_id, project=project)
    record(db_path, entry_for(m, "adopt", stage_dir, reason=reason, night_id=night_id,
                              project=project))
    return m


def rollback(db_path: Path, stage_dir: Path, *, reason: str, night_id: str | None = None,
             project: str | None = None, force: bool = False) -> staging.Manifest:
    """``gate.staging.rollback``, logged in both places (a drop-in: the same manifest back)."""
    m = staging.rollback(stage_dir, force=force, reason=reason, night_id=night_id,
                         project=project)
    record(db_path, entry_for(m, "rollback", stage_dir, reason=reason, night_id=night_id,
                              project=project, forced=force))
    return m
