"""The replay stage: one run per agent on the mined suite (and one on the frozen suite), all
variants in each, through :func:`harness.runner.launch.launch`.

Why the run ids are written down the moment a run exists (``stage_progress``): a night killed
mid-run resumes that run through launch's own resume (only its unfinished trials run again),
instead of paying for the finished ones twice. Why budgets are checked between runs and
passed into each run: the Gateway stops a run that would spend past the night's remaining
tokens; the wall clock stops the night from starting another run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.nightly.config import NightlyConfig


class OverBudget(Exception):
    """The night's token or wall budget is spent; the night stops starting new work."""


@dataclass
class Budget:
    tokens_left: int
    deadline: float          # time.monotonic() after which no new work starts
    wall_minutes: float

    def check(self) -> None:
        if time.monotonic() >= self.deadline:
            raise OverBudget(f"wall budget of {self.wall_minutes:g} min spent")
        if self.tokens_left <= 0:
            raise OverBudget("token budget spent")


@dataclass
class Job:
    key: str                      # "<agent>:mined" | "<agent>:frozen"
    suite: Path
    agent: str
    variants: dict[str, str]


@dataclass
class ReplayResult:
    runs: dict[str, str] = field(default_factory=dict)   # job key -> run id
    records: list[Any] = field(default_factory=list)     # gate.models.TrialRecord, relabelled


def jobs(cfg: NightlyConfig, suite: Path, variants: dict[str, str],
         previous: str | None) -> list[Job]:
    """The night's runs: each agent on the mined suite (with ``previous`` when watching),
    then each agent on the frozen suite (without it: watch looks at tonight's tasks)."""
    out = []
    for agent in cfg.agents:
        v = dict(variants) | ({"previous": previous} if previous else {})
        out.append(Job(f"{agent}:mined", suite, agent, v))
    if cfg.frozen_suite is not None:
        out += [Job(f"{a}:frozen", cfg.frozen_suite, a, dict(variants)) for a in cfg.agents]
    return out


def run_jobs(cfg: NightlyConfig, todo: list[Job], *, root: Path, policy_file: Path | None,
             progress: dict[str, Any], save: Callable[[dict[str, Any]], None], budget: Budget,
             say: Callable[[str], None]) -> ReplayResult:
    """Run (or resume) every job; ``progress`` (``runs``, ``done``) is saved as it changes."""
    from harness.runner.config import RunConfig
    from harness.runner.launch import launch

    runs: dict[str, str] = progress.setdefault("runs", {})
    done: list[str] = progress.setdefault("done", [])
    for job in todo:
        if job.key in done:
            continue
        budget.check()
        rc = RunConfig(suite=job.suite, agent=job.agent, variants=job.variants,
                       trials=cfg.trials, concurrency=cfg.concurrency, model_mode=cfg.model.mode,
                       executor=cfg.executor, ray_address=cfg.ray_address,
                       model_name=cfg.model.name, cassette=cfg.model.cassette,
                       script=cfg.model.script, budget_tokens=budget.tokens_left,
                       gate_policy=policy_file)

        def note(runner: Any, key: str = job.key) -> Any:
            runs[key] = runner.paths.run_id
            save(progress)
            return nullcontext()

        resume = runs.get(job.key)
        say(f"{job.key}: {'resuming run ' + resume if resume else 'new run'} "
            f"({len(job.variants)} variants x {cfg.trials} trial(s))")
        out = launch(rc, root, resume=resume, watch=note)
        runs[job.key] = out.run_id
        done.append(job.key)
        save(progress)
        budget.tokens_left -= sum(r.tokens.total for r in out.records)
    return ReplayResult(runs=dict(runs), records=collect(cfg, root, runs))


def collect(cfg: NightlyConfig, root: Path, runs: dict[str, str]) -> list[Any]:
    """Every trial of the night's runs, relabelled for one gate: frozen-suite trials are
    ``frozen`` (ids prefixed ``frozen/``); with two agents a task id carries its agent (each
    agent and task is its own task to the gate)."""
    from harness.runner.launch import rewrite_trials
    from harness.runner.paths import RunPaths
    from harness.runner.store import Store

    out = []
    with Store(root / "harness.db") as store:
        for key, rid in runs.items():
            agent, kind = key.split(":")
            for r in rewrite_trials(store, RunPaths(root, rid)):
                tid = f"{agent}/{r.task_id}" if len(cfg.agents) > 1 else r.task_id
                upd: dict[str, Any] = {"task_id": tid}
                if kind == "frozen":  # its own ids: a mined task of the same name is another task
                    upd = {"task_id": f"frozen/{tid}", "split": "frozen"}
                out.append(r.model_copy(update=upd))
    return out
