"""Harvest's tables, in the same SQLite file as the runs store (``<runs root>/harness.db``).

Why its own tables and schema key: the runner's store migrates its own schema
(``meta.schema_version``); harvest keeps ``meta.harvest_schema_version`` and creates its
tables with ``IF NOT EXISTS``, so either can open the file first. What is kept:

- ``harvest_sessions``: one digest per (agent, session id), redacted JSON; kept after the
  CLI deletes the session file (the point of a digest);
- ``harvest_files``: what was read from each session file (size, mtime, lines, outcome,
  cwd), so a nightly harvest reads only new or grown files;
- ``harvest_runs``: one row per harvest (project, sources, report counts): the last
  harvest per project.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.harvest.digest import Digest
from harness.runner.store import Tables

HARVEST_SCHEMA_VERSION = 1
META_KEY = "harvest_schema_version"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS harvest_sessions (
  agent TEXT NOT NULL, session_id TEXT NOT NULL, project TEXT NOT NULL, cwd TEXT NOT NULL,
  repo TEXT, start_commit TEXT, started_at TEXT, ended_at TEXT, source_file TEXT NOT NULL,
  harvested_at REAL NOT NULL, digest_json TEXT NOT NULL, PRIMARY KEY (agent, session_id)
);
CREATE INDEX IF NOT EXISTS harvest_sessions_cwd ON harvest_sessions(cwd);
CREATE TABLE IF NOT EXISTS harvest_files (
  agent TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  session_id TEXT, cwd TEXT, outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  read_at REAL NOT NULL, PRIMARY KEY (agent, path)
);
CREATE TABLE IF NOT EXISTS harvest_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, project TEXT NOT NULL,
  sources TEXT NOT NULL, counts_json TEXT NOT NULL
);
"""


class HarvestStore(Tables):
    """One connection, one lock; every write is one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)  # the same file and settings as the runs store
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (META_KEY,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    (META_KEY, str(HARVEST_SCHEMA_VERSION)),
                )
            elif int(row[0]) > HARVEST_SCHEMA_VERSION:
                self._db.close()
                raise ConfigError(
                    f"{path} holds harvest tables of a newer harness "
                    f"(schema {row[0]} > {HARVEST_SCHEMA_VERSION})",
                    hint="upgrade the harness, or use another --runs-dir",
                )

    # ------------------------------------------------------------ files read

    def file_seen(self, agent: str, path: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM harvest_files WHERE agent=? AND path=?", (agent, path)
            ).fetchone()
        return dict(row) if row else None

    def save(
        self,
        agent: str,
        path: str,
        size: int,
        mtime_ns: int,
        *,
        outcome: str,
        reason: str = "",
        session_id: str = "",
        cwd: str = "",
        digest: Digest | None = None,
    ) -> None:
        """Remember one file as read and (when kept) its digest, in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO harvest_files VALUES (?,?,?,?,?,?,?,?,?)",
                    (agent, path, size, mtime_ns, session_id, cwd, outcome, reason, now),
                )
                if digest is not None:
                    self._db.execute(
                        # one session in two files (a copy, a fork): the file that goes
                        # on longest wins, whichever order they are read in
                        "INSERT INTO harvest_sessions VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                        "ON CONFLICT (agent, session_id) DO UPDATE SET project=excluded.project, "
                        "cwd=excluded.cwd, repo=excluded.repo, start_commit=excluded.start_commit, "
                        "started_at=excluded.started_at, ended_at=excluded.ended_at, "
                        "source_file=excluded.source_file, harvested_at=excluded.harvested_at, "
                        "digest_json=excluded.digest_json WHERE "
                        "excluded.source_file = harvest_sessions.source_file "
                        "OR IFNULL(excluded.ended_at, '') >= IFNULL(harvest_sessions.ended_at, '')",
                        (
                            digest.agent,
                            digest.session_id,
                            digest.project,
                            digest.cwd,
                            digest.start.repo,
                            digest.start.commit,
                            _iso(digest.started_at),
                            _iso(digest.ended_at),
                            digest.source_file,
                            now,
                            digest.model_dump_json(by_alias=True),
                        ),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def record_run(self, project: str, sources: dict[str, str], counts: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO harvest_runs (at, project, sources, counts_json) VALUES (?,?,?,?)",
                (
                    time.time(),
                    project,
                    json.dumps(sources, sort_keys=True),
                    json.dumps(counts, sort_keys=True),
                ),
            )

    # ------------------------------------------------------------ reading back

    def last_run(self, project: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM harvest_runs WHERE project=? ORDER BY id DESC LIMIT 1", (project,)
            ).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["sources"], d["counts"] = json.loads(d["sources"]), json.loads(d.pop("counts_json"))
        return d

    def digests(self, *, project: str | None = None, agent: str | None = None) -> list[Digest]:
        """Stored digests, oldest session first; ``project`` keeps those whose cwd is inside it."""
        q, args = "SELECT digest_json, cwd FROM harvest_sessions WHERE 1=1", []
        if agent:
            q += " AND agent=?"
            args.append(agent)
        q += " ORDER BY started_at, agent, session_id"
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        out = []
        for r in rows:
            if project and not inside(r["cwd"], project):
                continue
            out.append(Digest.model_validate_json(r["digest_json"]))
        return out

    def digest(self, agent: str, session_id: str) -> Digest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest_json FROM harvest_sessions WHERE agent=? AND session_id=?",
                (agent, session_id),
            ).fetchone()
        return Digest.model_validate_json(row[0]) if row else None


def inside(path: str, project: str) -> bool:
    """True when ``path`` is ``project`` or below it (string-wise, both absolute)."""
    p, root = path.rstrip("/"), project.rstrip("/")
    return bool(p) and (p == root or p.startswith(root + "/"))


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None
