"""What a night leaves in the store: one ``nights`` row per night, one ``night_stages`` row
per finished stage.

Why in the runs database (``<runs root>/harness.db``, opened through ``connect()``): the
nights point at runs (``run_ids``) and harvested digests that already live there, and
``harness nightly status`` / ``report`` read all three with one connection. Why a stage row
holds its output as JSON: ``--resume`` re-reads it instead of redoing the stage, and the
history page reads the figures without re-deriving them from runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.runner.store import Tables

#: the stages of a night, in order; ``watch`` runs inside ``replay`` when a previous night
#: adopted a skill (it is recorded as its own stage so a resume does not redo it)
STAGES = ("harvest", "mine", "propose", "replay", "watch", "gate", "stage", "adopt")
NightStatus = Literal["running", "done", "nothing_to_do", "failed", "interrupted"]
Verdict = Literal["accept", "reject", "inconclusive", "rolled_back", "nothing_to_do"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nights (
  night_id TEXT PRIMARY KEY, project TEXT NOT NULL, started_at REAL NOT NULL,
  ended_at REAL, status TEXT NOT NULL, verdict TEXT, record_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS nights_project ON nights(project, started_at);
CREATE TABLE IF NOT EXISTS night_stages (
  night_id TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL,
  started_at REAL NOT NULL, ended_at REAL, output_json TEXT NOT NULL,
  PRIMARY KEY (night_id, stage)
);
"""


class CandidateOutcome(BaseModel):
    """One candidate's fate on one night."""

    name: str
    source: Literal["folder", "git", "proposer"]
    verdict: str | None = None          # the gate's word, after Holm
    reason: str = ""                    # the rule that decided it, with its numbers
    edits: list[dict[str, Any]] = Field(default_factory=list)  # proposer edits (with rationale)
    path: str | None = None             # where the candidate's files are


class NightRecord(BaseModel):
    """Everything ``status`` and ``history.html`` show about a night.

    ``scores``: held-out score per variant (baseline, each candidate, and under watch
    ``adopted``/``previous``); ``pass_rates``: pass rate per variant over all replayed
    trials; ``steps_to_green``: mean agent turns of passing trials per variant;
    ``tokens_per_trial``: mean input+output tokens per trial per variant;
    ``error_signatures``: the distinct normalised error signatures seen in the night's
    failed trials (history computes the repeat-error rate from them).
    """

    night_id: str
    project: str
    started_at: float
    ended_at: float | None = None
    status: NightStatus = "running"
    verdict: Verdict | None = None
    decision: str = ""                  # one line: which rule decided, with the numbers
    harvested: int = 0
    mined: int = 0
    replayed: int = 0                   # trials replayed this night (all runs)
    run_ids: list[str] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    pass_rates: dict[str, float] = Field(default_factory=dict)
    steps_to_green: dict[str, float] = Field(default_factory=dict)
    tokens_per_trial: dict[str, float] = Field(default_factory=dict)
    tokens: int = 0
    wall_s: float = 0.0
    candidates: list[CandidateOutcome] = Field(default_factory=list)
    staged: str | None = None           # the stage folder written tonight
    adopted: str | None = None          # the stage folder adopted tonight
    rolled_back: str | None = None      # the stage folder rolled back tonight
    error_signatures: list[str] = Field(default_factory=list)
    message: str = ""                   # e.g. why the night had nothing to do, or failed


class NightStore(Tables):
    """One connection and one lock; every write is one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # ---------------------------------------------------------------- nights

    def save(self, rec: NightRecord) -> None:
        """Insert or replace the night's row (the record is small; one write per stage)."""
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO nights VALUES (?,?,?,?,?,?,?)",
                (rec.night_id, rec.project, rec.started_at, rec.ended_at, rec.status,
                 rec.verdict, rec.model_dump_json()),
            )

    def get(self, night_id: str) -> NightRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record_json FROM nights WHERE night_id=?", (night_id,)).fetchone()
        return NightRecord.model_validate_json(row[0]) if row else None

    def nights(self, project: str | None = None, limit: int | None = None) -> list[NightRecord]:
        """Nights oldest first (optionally of one project; ``limit`` keeps the newest)."""
        sql = "SELECT record_json FROM nights"
        args: tuple[Any, ...] = ()
        if project is not None:
            sql, args = sql + " WHERE project=?", (project,)
        sql += " ORDER BY started_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [NightRecord.model_validate_json(r[0]) for r in reversed(rows)]

    def projects(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT project FROM nights ORDER BY project").fetchall()
        return [r[0] for r in rows]

    # ---------------------------------------------------------------- stages

    def stage_done(self, night_id: str, stage: str, output: dict[str, Any],
                   started_at: float) -> None:
        """Record a finished stage and its output (what ``--resume`` re-reads)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO night_stages VALUES (?,?,?,?,?,?)",
                (night_id, stage, "done", started_at, time.time(), json.dumps(output)),
            )

    def stage_output(self, night_id: str, stage: str) -> dict[str, Any] | None:
        """A finished stage's output, or None when the stage has not finished."""
        with self._lock:
            row = self._db.execute(
                "SELECT output_json FROM night_stages WHERE night_id=? AND stage=? "
                "AND status='done'", (night_id, stage)).fetchone()
        return json.loads(row[0]) if row else None

    def stage_progress(self, night_id: str, stage: str, output: dict[str, Any],
                       started_at: float) -> None:
        """Record what an unfinished stage has started so far (e.g. the run ids it launched),
        so a killed night resumes those runs instead of starting new ones."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO night_stages VALUES (?,?,?,?,?,?)",
                (night_id, stage, "running", started_at, None, json.dumps(output)),
            )

    def stage_partial(self, night_id: str, stage: str) -> tuple[dict[str, Any], float] | None:
        """An unfinished stage's progress and start time, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT output_json, started_at FROM night_stages WHERE night_id=? AND stage=? "
                "AND status='running'", (night_id, stage)).fetchone()
        return (json.loads(row[0]), float(row[1])) if row else None

    def stage_rows(self, night_id: str) -> list[dict[str, Any]]:
        """Every stage row of a night, in stage order (for status pages and tests)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stage, status, started_at, ended_at, output_json FROM night_stages "
                "WHERE night_id=?", (night_id,)).fetchall()
        out = [{"stage": r[0], "status": r[1], "started_at": r[2], "ended_at": r[3],
                "output": json.loads(r[4])} for r in rows]
        return sorted(out, key=lambda r: STAGES.index(r["stage"]))

    def unfinished(self, project: str) -> NightRecord | None:
        """The project's latest night, when it did not finish (what ``--resume`` picks up)."""
        last = self.nights(project, limit=1)
        if last and last[0].status in ("running", "failed", "interrupted"):
            return last[0]
        return None
