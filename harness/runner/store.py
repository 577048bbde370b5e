"""The results store: SQLite (WAL) for runs, trials, check results and events.

Why one transaction per finished trial: a process killed at any moment leaves each trial
either complete in the store (and its ``result.json`` written) or absent, so
``harness run --resume RUN`` re-runs exactly the missing ones. The schema carries a
version; opening a newer schema than this code knows is an error, an older one is migrated.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from harness.errors import ConfigError

SCHEMA_VERSION = 2
FINAL_STATUSES = ("passed", "failed", "timeout", "agent_error", "infra_error")
#: statuses ``--resume`` keeps; an ``infra_error`` trial (the machinery failed it, e.g. an
#: engine restart outlasted the retries, or a refused key stopped the run) runs again and
#: its new row replaces the old one under the same (run, task, variant, attempt) key
RESUME_KEEPS = ("passed", "failed", "timeout", "agent_error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
  suite TEXT NOT NULL, agent TEXT NOT NULL, model_mode TEXT NOT NULL, config_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  run_id TEXT NOT NULL REFERENCES runs(id), task_id TEXT NOT NULL, variant TEXT NOT NULL,
  attempt INTEGER NOT NULL, split TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
  started_at REAL, finished_at REAL, duration_sec REAL, agent_sec REAL,
  input_tokens INTEGER, output_tokens INTEGER, artifacts TEXT, result_json TEXT NOT NULL,
  warm INTEGER, sandbox_sec REAL, wall_sec REAL, timing_json TEXT,
  PRIMARY KEY (run_id, task_id, variant, attempt)
);
CREATE TABLE IF NOT EXISTS checks (
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, variant TEXT NOT NULL, attempt INTEGER NOT NULL,
  idx INTEGER NOT NULL, name TEXT NOT NULL, op TEXT NOT NULL, passed INTEGER, score REAL,
  reason TEXT NOT NULL, PRIMARY KEY (run_id, task_id, variant, attempt, idx)
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, ts REAL NOT NULL,
  kind TEXT NOT NULL, trial TEXT, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, ts);
"""

#: columns added after version 1, in the order a fresh database has them: (version, table, column)
_ADDED = (
    (2, "trials", "warm INTEGER"),        # the trial reused a warm sandbox (1) or started one (0)
    (2, "trials", "sandbox_sec REAL"),    # sandbox ready (fresh container, or reused at once)
    (2, "trials", "wall_sec REAL"),       # the whole trial, sandbox included
    (2, "trials", "timing_json TEXT"),    # the trial's laps: install_and_snapshot, collect, ...
)
_TRIAL_COLUMNS = ("run_id", "task_id", "variant", "attempt", "split", "status", "reason",
                  "started_at", "finished_at", "duration_sec", "agent_sec", "input_tokens",
                  "output_tokens", "artifacts", "result_json", "warm", "sandbox_sec", "wall_sec",
                  "timing_json")


def connect(path: Path) -> sqlite3.Connection:
    """The one way the runs database file is opened (runs, trials, and harvest's tables
    alike): WAL, so readers never block the writer; autocommit, so every transaction is an
    explicit ``BEGIN IMMEDIATE``; a 30 s wait on a lock another process holds."""
    db = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


class Tables:
    """Tables in the runs database, thread-safe: one connection, one lock, every write one
    ``BEGIN IMMEDIATE`` transaction. The runs store, harvest's and the nightly's all build on
    it, so the file is opened one way and a context manager always closes it."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = connect(path)
        try:
            with self._lock:
                self._db.executescript(schema)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


class Store(Tables):
    """The runs store; the runner's workers all write through it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        try:
            self._migrate(path)
        except BaseException:
            self._db.close()
            raise

    def _migrate(self, path: Path) -> None:
        """Bring an older schema to this version in one transaction (two processes opening
        the same old store at once: the second finds the columns there and adds nothing)."""
        with self._tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            version = int(row[0])
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"{path} was written by a newer harness (schema {version} > {SCHEMA_VERSION})",
                    hint="upgrade the harness, or use another --runs-dir",
                )
            if version == SCHEMA_VERSION:
                return
            for since, table, column in _ADDED:
                have = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
                if since > version and column.split()[0] not in have:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
            c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    # ---------------------------------------------------------------- runs

    def create_run(self, run_id: str, *, suite: str, agent: str, model_mode: str, config: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
                (run_id, time.time(), None, "running", suite, agent, model_mode, json.dumps(config, sort_keys=True)),
            )

    def set_run_status(self, run_id: str, status: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status=?, finished_at=? WHERE id=?", (status, time.time(), run_id))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["config"] = json.loads(d.pop("config_json"))
        return d

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT r.id, r.created_at, r.finished_at, r.status, r.suite, r.agent, r.model_mode, "
                "COUNT(t.task_id) AS trials, SUM(t.status='passed') AS passed "
                "FROM runs r LEFT JOIN trials t ON t.run_id = r.id GROUP BY r.id "
                "ORDER BY r.created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(r) for r in rows]

    def latest_run_id(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    # ---------------------------------------------------------------- trials

    def record_trial(self, run_id: str, result: dict[str, Any]) -> None:
        """Write one finished trial and its checks atomically (replaces a previous attempt row)."""
        key = (run_id, result["task_id"], result["variant"], int(result["attempt"]))
        tokens = result.get("tokens") or {}
        warm, timing = result.get("warm"), result.get("timing")
        with self._tx() as c:
            c.execute("DELETE FROM checks WHERE run_id=? AND task_id=? AND variant=? AND attempt=?", key)
            c.execute(
                f"INSERT OR REPLACE INTO trials ({', '.join(_TRIAL_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(_TRIAL_COLUMNS))})",
                (
                    *key, result.get("split", "heldout"), result["status"], result.get("reason", ""),
                    result.get("started_at"), result.get("finished_at"), result.get("duration_sec"),
                    result.get("agent_sec"), tokens.get("input"), tokens.get("output"),
                    result.get("artifacts"), json.dumps(result, sort_keys=True, default=str),
                    None if warm is None else int(bool(warm)), result.get("sandbox_sec"),
                    result.get("wall_sec"),
                    None if timing is None else json.dumps(timing, sort_keys=True),
                ),
            )
            for i, ch in enumerate(result.get("checks") or []):
                passed = ch.get("passed")
                c.execute(
                    "INSERT INTO checks VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (*key, i, ch.get("name", ""), ch.get("op", ""),
                     None if passed is None else int(bool(passed)), ch.get("score"), ch.get("reason", "")),
                )

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT result_json FROM trials WHERE run_id=? ORDER BY task_id, variant, attempt", (run_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def completed_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """(task, variant, attempt) of trials that need not run again: every final status
        but ``infra_error`` (see RESUME_KEEPS)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT task_id, variant, attempt FROM trials WHERE run_id=? AND status IN "
                f"({','.join('?' * len(RESUME_KEEPS))})",
                (run_id, *RESUME_KEEPS),
            ).fetchall()
        return {(r[0], r[1], int(r[2])) for r in rows}

    # ---------------------------------------------------------------- events

    def event(self, run_id: str, kind: str, message: str, trial: str | None = None) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO events (run_id, ts, kind, trial, message) VALUES (?,?,?,?,?)",
                (run_id, time.time(), kind, trial, message),
            )

    def events(self, run_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, kind, trial, message FROM events WHERE run_id=? ORDER BY id LIMIT ?", (run_id, limit)
            ).fetchall()
        return [dict(r) for r in rows]
