"""One night of one project: harvest → mine → propose → replay → watch → gate → stage → adopt.

Why stage by stage through the store: a night runs for hours, unattended, and may be killed
at any point (a reboot, the OOM killer, Ctrl-C). Each stage's output is written
(``NightStore.stage_done``) before the next starts, and a stage re-reads what earlier ones
wrote from there, never from memory; so ``--resume`` skips finished stages and redoes only the
one that was cut short (a replay resumes its runs through launch's own resume). Why the
library functions and not the CLI: the same code paths as ``harness harvest / mine / run /
stage / adopt``, with their errors, without parsing output.

The live skill files are written only by ``adopt`` (``adopt: auto`` and an accept) and by
``rollback`` (watch found the adopted skill worse); both are atomic and refuse drifted files.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, GateError
from harness.nightly import metrics
from harness.nightly.candidates import NightDirs, baseline, gather
from harness.nightly.config import NightlyConfig
from harness.nightly.lock import NightLock
from harness.nightly.records import STAGES, CandidateOutcome, NightRecord, NightStore
from harness.nightly.replay import Budget, OverBudget, jobs, run_jobs
from harness.nightly.watch import (
    Watched,
    change,
    find_adopted,
    judge,
    previous_variant,
    roll_back,
)
from harness.nightly.watch import stage_dirs as _stage_dirs

#: ``say(stage, line)``: one progress line of a stage
Say = Callable[[str, str], None]


def new_night_id() -> str:
    return datetime.now(UTC).strftime("n%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def run_night(cfg: NightlyConfig, *, resume: bool = False, runs_dir: Path | None = None,
              say: Say = lambda s, m: None,
              after_stage: Callable[[str], None] | None = None) -> NightRecord:
    """Run (or with ``resume``, finish) a night; returns its record as stored.

    ``after_stage`` is called after each stage is recorded (progress views; tests use it to
    kill a night between stages)."""
    from harness.runner.paths import default_runs_root

    root = (runs_dir or cfg.runs_dir or default_runs_root()).resolve()
    lock = NightLock(root, cfg.project)
    lock.acquire()
    try:
        note = lock.take_over_message()
        if note:
            say("lock", note)
        with NightStore(root / "harness.db") as store:
            project = str(cfg.project)
            rec = store.unfinished(project) if resume else None
            if resume and rec is None:
                raise ConfigError(f"no unfinished night of {project} in {root} to resume",
                                  hint="run `harness nightly --config F` without --resume")
            if rec is None:
                rec = NightRecord(night_id=new_night_id(), project=project, started_at=time.time())
            rec.status, rec.ended_at = "running", None
            store.save(rec)
            return Night(cfg, root, store, rec, say, after_stage).run()
    finally:
        lock.release()


class Night:
    """The stages of one night; each ``_<stage>`` returns the output the store keeps."""

    def __init__(self, cfg: NightlyConfig, root: Path, store: NightStore, rec: NightRecord,
                 say: Say, after_stage: Callable[[str], None] | None) -> None:
        self.cfg, self.root, self.store, self.rec = cfg, root, store, rec
        self.say, self.after_stage = say, after_stage
        self.dirs = NightDirs(root / "nightly" / rec.night_id)
        self.state: dict[str, dict[str, Any]] = {}
        self._t0, self._wall0 = time.monotonic(), rec.wall_s
        self.budget = Budget(cfg.budgets.tokens - rec.tokens,
                             self._t0 + cfg.budgets.wall_minutes * 60, cfg.budgets.wall_minutes)
        self._records: list[Any] | None = None
        self._started = time.time()

    # ------------------------------------------------------------------ driver

    def run(self) -> NightRecord:
        nid = self.rec.night_id
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            out = self.store.stage_output(nid, stage)
            if out is not None:
                self.state[stage] = out
                self.say(stage, f"done earlier: {out.get('summary', '')}")
                continue
            try:
                self.budget.check()
            except OverBudget as exc:
                return self._end("interrupted", f"stopped before {stage}: {exc}")
            partial = self.store.stage_partial(nid, stage)
            self._started = partial[1] if partial else time.time()
            s0 = time.monotonic()
            try:
                out = getattr(self, f"_{stage}")()
            except OverBudget as exc:
                self._reload()
                return self._end("interrupted", f"stopped in {stage}: {exc}")
            except BaseException as exc:
                self._reload()
                what = exc.one_line() if hasattr(exc, "one_line") else f"{type(exc).__name__}: {exc}"
                self._end("failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted",
                          f"{stage}: {what}")
                raise
            self.store.stage_done(nid, stage, out, self._started)
            self.state[stage] = out
            self._save()
            self.say(stage, f"{out.get('summary', '')} ({time.monotonic() - s0:.1f}s)")
            if self.after_stage is not None:
                self.after_stage(stage)
            if out.get("end"):
                return self._end(out["end"], out.get("message", ""))
        return self._end("done", self.rec.message)

    def _save(self) -> None:
        self.rec.wall_s = round(self._wall0 + time.monotonic() - self._t0, 3)
        self.store.save(self.rec)

    def _reload(self) -> None:
        """Drop what a cut-short stage put in the record (the stored one is consistent)."""
        self.rec = self.store.get(self.rec.night_id) or self.rec

    def _end(self, status: str, message: str) -> NightRecord:
        self.rec.status = status  # type: ignore[assignment]
        if status == "nothing_to_do":
            self.rec.verdict = "nothing_to_do"
        self.rec.message = message
        self.rec.ended_at = time.time()
        self._save()
        return self.rec

    def _out(self, stage: str) -> dict[str, Any]:
        return self.state.get(stage) or {}

    # ------------------------------------------------------------------ stages

    def _harvest(self) -> dict[str, Any]:
        from harness.harvest import HarvestOptions, HarvestStore, parse_since
        from harness.harvest import harvest as run_harvest

        s = self.cfg.sources
        opts = HarvestOptions(source="auto", since=parse_since(s.since) if s.since else None,
                              project=self.cfg.project, max_sessions=s.max_sessions,
                              claude_home=s.claude_home, codex_home=s.codex_home)
        with HarvestStore(self.root / "harness.db") as hs:
            rep = run_harvest(opts, hs)
        self.rec.harvested = rep.kept
        out: dict[str, Any] = {
            "found": rep.found, "kept": rep.kept, "unchanged": rep.unchanged,
            "skipped": rep.skipped, "problems": [f"{p.file}: {p.what}" for p in rep.problems][:20],
            "summary": f"found {rep.found}, new {rep.kept}, unchanged {rep.unchanged}, "
                       f"skipped {rep.skipped}"}
        if rep.kept == 0:
            out |= {"end": "nothing_to_do",
                    "message": f"nothing to do: no new session of {self.cfg.project} since the "
                               f"last harvest ({out['summary']})"}
        return out

    def _mine(self) -> dict[str, Any]:
        from harness.harvest import HarvestStore
        from harness.mine import MineOptions, mine
        from harness.mine.writer import write_suite

        m = self.cfg.mine
        with HarvestStore(self.root / "harness.db") as hs:
            digests = hs.digests(project=str(self.cfg.project))
        opts = MineOptions(threshold=m.threshold, min_occurrences=m.min_occurrences,
                           holdout_fraction=m.holdout_fraction, seed=m.seed,
                           target_skill=self._skill_name(), allow_no_repo=m.allow_no_repo,
                           max_tasks=m.max_tasks, timeout_sec=m.timeout_sec)
        rep, built = mine(digests, opts, project=str(self.cfg.project))
        self.rec.mined = len(rep.tasks)
        summary = (f"{len(rep.tasks)} task(s) from {rep.digests} session(s) "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(rep.splits.items())) or 'none'})")
        if not built:
            why = "; ".join(sorted({d.reason for d in rep.dropped}))[:300] or "no prompts"
            return {"tasks": 0, "summary": summary, "end": "nothing_to_do",
                    "message": f"nothing to do: no replayable task mined ({why})"}
        write_suite(self.dirs.suite, built, rep, name=f"nightly-{self.rec.night_id}")
        if m.accept_unreviewed:
            f = self.dirs.suite / "suite.yaml"
            f.write_text(f.read_text().replace("reviewed: false", "reviewed: true", 1))
        return {"suite": str(self.dirs.suite), "tasks": len(rep.tasks), "splits": rep.splits,
                "summary": summary}

    def _skill_name(self) -> str | None:
        from harness.runner.variants import _skill_name

        for t in self.cfg.targets:
            p = self.cfg.project / t
            md = p / "SKILL.md" if p.is_dir() else p
            if md.name == "SKILL.md" and md.is_file():
                return _skill_name(md, md.parent.name)
        return None

    def _propose(self) -> dict[str, Any]:
        base = baseline(self.cfg, self.dirs)
        w, note = find_adopted(self.store, self.cfg, self.rec.night_id,
                               db_path=self.root / "harness.db")
        prev = previous_variant(self.cfg, self.dirs, w) if w else None
        self.say("propose", note)
        evidence = self._evidence_runs()
        cands = gather(self.cfg, self.dirs, night_id=self.rec.night_id,
                       db_path=self.root / "harness.db", evidence_runs=evidence,
                       say=lambda m: self.say("propose", m))
        self.rec.candidates = cands
        ready = sum(c.verdict is None for c in cands)
        watch = ({"night": w.what, "stage_root": str(w.stage_root),
                  "stage_dirs": [str(d) for d in w.stage_dirs]} if w else None)
        return {"baseline": base, "previous": prev, "watch": watch, "watch_note": note,
                "candidates": [c.model_dump() for c in cands],
                "summary": f"{ready} candidate(s) to replay of {len(cands)}"
                           + (", watching an adopted skill" if w else "")}

    def _evidence_runs(self) -> list[Path]:
        """The run folders of the project's last night that replayed anything: what the
        proposer reads (tonight's replay comes after it)."""
        from harness.runner.paths import RunPaths

        for n in reversed(self.store.nights(str(self.cfg.project))):
            if n.night_id != self.rec.night_id and n.run_ids:
                return [RunPaths(self.root, r).run_dir for r in n.run_ids]
        return []

    def _ready(self) -> list[CandidateOutcome]:
        return [c for c in self.rec.candidates if c.verdict is None]

    def _replay(self) -> dict[str, Any]:
        p = self._out("propose")
        ready = self._ready()
        if not ready and not p.get("previous"):
            return {"runs": {}, "summary": "nothing to replay (no candidate, nothing to watch)"}
        variants = {"baseline": p["baseline"]} | {c.name: str(self.dirs.variant(c.name))
                                                  for c in ready}
        todo = jobs(self.cfg, Path(self._out("mine")["suite"]), variants, p.get("previous"))
        partial = self.store.stage_partial(self.rec.night_id, "replay")
        progress = partial[0] if partial else {}

        def save(prog: dict[str, Any]) -> None:
            self.store.stage_progress(self.rec.night_id, "replay", prog, self._started)

        res = run_jobs(self.cfg, todo, root=self.root, policy_file=self._policy_file(),
                       progress=progress, save=save, budget=self.budget,
                       say=lambda m: self.say("replay", m))
        self._records = res.records
        self.rec.run_ids = list(res.runs.values())
        metrics.fill(self.rec, res.records, self._policy())
        return {"runs": res.runs, "trials": len(res.records),
                "summary": f"{len(res.records)} trial(s) in {len(res.runs)} run(s), "
                           f"{self.rec.tokens} tokens"}

    def records(self) -> list[Any]:
        if self._records is None:
            from harness.nightly.replay import collect

            self._records = collect(self.cfg, self.root, self._out("replay").get("runs", {}))
        return self._records

    def _policy_file(self) -> Path | None:
        gp = self.cfg.gate_policy
        if gp is None or isinstance(gp, Path):
            return gp
        import yaml

        f = self.dirs.root / "gate-policy.yaml"
        f.write_text(yaml.safe_dump(gp, sort_keys=False))
        return f

    def _policy(self) -> Any:
        from gate.io import load_policy

        return load_policy(self._policy_file())

    def _watch(self) -> dict[str, Any]:
        w = self._out("propose").get("watch")
        if not w:
            return {"summary": self._out("propose").get("watch_note", "nothing to watch")}
        watched = Watched(w["night"], Path(w["stage_root"]), tuple(Path(d) for d in w["stage_dirs"]))
        d = judge(self.records(), self._policy(), self.cfg.model.mode)
        if "baseline" in self.rec.scores:  # tonight the live (baseline) skill is the adopted one
            self.rec.scores["adopted"] = self.rec.scores["baseline"]
        cd = d.candidates[0]
        reason = cd.reasons[0] if cd.reasons else d.reasons[0]
        out = {"watched": w["night"], "decision": cd.decision, "reason": reason,
               "rolled_back": False}
        if cd.decision != "accept":
            out["summary"] = f"kept {w['night']}: {cd.decision} ({reason})"
            return out
        decision = (f"rolled back {w['night']}: the version it "
                    f"replaced did better on tonight's tasks ({reason})")
        roll_back(watched, db_path=self.root / "harness.db", reason=decision,
                  night_id=self.rec.night_id, project=str(self.cfg.project))
        self.rec.rolled_back, self.rec.verdict = w["stage_root"], "rolled_back"
        self.rec.decision = decision
        out |= {"rolled_back": True, "summary": self.rec.decision}
        return out

    def _gate(self) -> dict[str, Any]:
        from gate.decision import decide
        from gate.report import write_reports
        from gate.verdict import variant_files

        ready = self._ready()
        if not ready:
            if self.rec.verdict != "rolled_back":
                self.rec.verdict = "inconclusive"
                self.rec.decision = "no candidate was replayed tonight"
            return {"decision": None, "summary": "no candidate to gate"}
        recs = [r for r in self.records() if r.variant != "previous"]
        runs = self._out("replay").get("runs", {})
        from harness.runner.paths import RunPaths

        files = variant_files(RunPaths(self.root, next(iter(runs.values()))).variants_dir)
        names = [c.name for c in ready]
        d = decide(recs, baseline="baseline", candidates=names, policy=self._policy(),
                   candidate_files={k: v for k, v in files.items() if k in names} or None,
                   baseline_files=files.get("baseline"),
                   model_mode=self.cfg.model.mode)  # type: ignore[arg-type]
        write_reports(d, recs, self.dirs.report)
        by = {c.candidate: c for c in d.candidates}
        for c in ready:
            cd = by.get(c.name)
            c.verdict = cd.decision if cd else "inconclusive"
            c.reason = (cd.reasons[0] if cd and cd.reasons else "not decided")
            if c.source == "proposer" and c.verdict == "reject" and c.edits:
                self._remember_rejected(c)
        if self.rec.verdict != "rolled_back":
            self.rec.verdict = d.decision
            self.rec.decision = d.reasons[0] if d.reasons else d.decision
        return {"decision": d.decision, "chosen": d.chosen,
                "summary": f"{d.decision}: {d.reasons[0] if d.reasons else 'no reason given'}"}

    def _remember_rejected(self, c: CandidateOutcome) -> None:
        try:  # the proposer's memory (issue 13 item 2), absent until that branch lands
            from harness.propose.memory import remember_rejected
        except ImportError:
            return
        remember_rejected(self.root / "harness.db", str(self.cfg.project), self.rec.night_id,
                          c.edits, c.reason)

    def _stage(self) -> dict[str, Any]:
        from gate.staging import stage
        from harness.nightly.layout import tree_digest

        g = self._out("gate")
        if self.rec.rolled_back:
            return {"summary": "rolled back tonight: nothing new is staged"}
        if g.get("decision") != "accept" or not g.get("chosen"):
            return {"summary": f"nothing staged (the gate said {g.get('decision') or 'nothing'})"}
        c = next(x for x in self.rec.candidates if x.name == g["chosen"])
        tree = Path(c.path or "")
        run_id = next(iter(self._out("replay")["runs"].values()))
        staged = []
        for i, t in enumerate(self.cfg.targets):
            if tree_digest(tree, [t]) == tree_digest(self.cfg.project, [t]):
                continue
            slug = re.sub(r"[^A-Za-z0-9._-]+", "-", t).strip("-.") or "target"
            stage(run_id=run_id, candidate=c.name, candidate_dir=tree / t,
                  live_root=self.cfg.project / t, stage_dir=self.dirs.stage / f"{i:02d}-{slug}")
            staged.append(t)
        self.rec.staged = str(self.dirs.stage)
        return {"stage_dir": str(self.dirs.stage), "targets": staged,
                "summary": f"staged {c.name} ({', '.join(staged)}) in {self.dirs.stage}"}

    def _adopt(self) -> dict[str, Any]:
        from gate.staging import load_manifest

        if not self.rec.staged:
            return {"summary": "nothing to adopt"}
        if self.cfg.adopt != "auto":
            return {"summary": f"staged only (adopt: stage); adopt by hand with "
                               f"`harness adopt DIR` for each folder in {self.rec.staged}"}
        db, nid, proj = self.root / "harness.db", self.rec.night_id, str(self.cfg.project)
        reason = f"nightly {nid}: the gate accepted ({self.rec.decision})"
        done: list[Path] = []
        for d in _stage_dirs(Path(self.rec.staged)):
            if load_manifest(d).state == "adopted":
                done.append(d)  # a resumed night: adopted before the kill
                continue
            try:
                change(d, "adopt", db_path=db, reason=reason, night_id=nid, project=proj)
            except GateError as exc:
                for back in reversed(done):  # all targets or none
                    change(back, "rollback", db_path=db, night_id=nid, project=proj,
                           reason=f"nightly {nid}: another target's adopt was refused")
                self.rec.message = f"adopt refused: {exc.one_line()}"
                return {"adopted": False, "summary": self.rec.message}
            done.append(d)
        self.rec.adopted = self.rec.staged
        return {"adopted": True, "summary": f"adopted {self.rec.staged}"}
