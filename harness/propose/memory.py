"""Edits the gate rejected, remembered per project so later nights show them to the proposer
as "do not propose again".

Why in the runs database (``<runs root>/harness.db``, opened through
:func:`harness.runner.store.connect`, the one way that file is opened): the nights and the
runs that rejected these edits live there too. Why one row per edit, keyed by its content:
the same edit rejected on two nights is one example (the latest night and reason win), so
a proposer that keeps circling back does not crowd the prompt with copies.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from harness.runner.store import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS propose_rejected (
  project TEXT NOT NULL, edit_key TEXT NOT NULL, night_id TEXT NOT NULL, at REAL NOT NULL,
  file TEXT NOT NULL, op TEXT NOT NULL, section TEXT NOT NULL, content TEXT NOT NULL,
  rationale TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (project, edit_key)
);
CREATE INDEX IF NOT EXISTS propose_rejected_at ON propose_rejected(project, at);
"""
_FIELDS = ("file", "op", "section", "content", "rationale")


def _key(e: dict[str, Any]) -> str:
    ident = json.dumps([str(e.get(f, "")) for f in ("file", "op", "section", "content")])
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def remember_rejected(db_path: Path, project: str, night_id: str, edits: list[dict[str, Any]],
                      reason: str) -> None:
    """Record each of ``edits`` (dicts with file, op, section, content, rationale) as rejected
    on ``night_id`` for ``reason``; one transaction."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(db_path)
    try:
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            for e in edits:
                vals = [str(e.get(f, "") or "") for f in _FIELDS]
                db.execute("INSERT OR REPLACE INTO propose_rejected VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (project, _key(e), night_id, now, *vals, reason))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def rejected_examples(db_path: Path, project: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` rejected edits of ``project`` (newest first): dicts with file, op,
    section, content, rationale, reason, night_id. Empty when the database is not there."""
    if not db_path.is_file():
        return []
    db = connect(db_path)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                      "name='propose_rejected'").fetchone() is None:
            return []  # reading never creates the table (the database may be another's)
        rows = db.execute(
            "SELECT file, op, section, content, rationale, reason, night_id FROM propose_rejected"
            " WHERE project=? ORDER BY at DESC, rowid DESC LIMIT ?", (project, int(limit))).fetchall()
    finally:
        db.close()
    return [dict(r) for r in rows]
