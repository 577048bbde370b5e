"""A Run: every (task, variant, attempt) of one invocation, scheduled over N workers.

Why workers that keep a warm sandbox: the queue is ordered by task, and a worker whose
last trial was the same task restores the pristine snapshot instead of starting a new
container, copying the workspace and running setup again. Retries are for infrastructure
only (tenacity, bounded, with a fresh sandbox), never for a task the agent failed.

Nothing is lost when the process dies: a trial is complete once its row is in the store
(one transaction) and its ``result.json`` is written; ``resume`` re-runs the rest.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt

from controllers.profiles.base import AgentProfile, Variant
from controllers.sandbox import SandboxLimits
from harness import providers
from harness.errors import ConfigError, GatewayError, HarnessError
from harness.providers import SandboxProvider, SandboxRequest, TaskSandbox
from harness.runner.faults import auth_hint
from harness.runner.paths import RunPaths
from harness.runner.startgate import StartGate
from harness.runner.store import Store
from harness.runner.trial import TrialEnv, TrialOutcome, TrialPlan, run_trial, write_result
from harness.runner.variants import variant_bytes

if TYPE_CHECKING:
    from harness.gateway.server import Gateway
    from harness.tasks.suite import Suite

log = logging.getLogger(__name__)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


#: trials per core: a waiting trial costs about 0.02 of a core (issue 14), so cores bound only
#: the CPU-heavy moments (the CLI's start-up, the agent's tools), which trials take in turns
TRIALS_PER_CORE = 4
#: memory one concurrent trial holds, with headroom for what the agent runs (its RSS is ~350
#: MiB: the CLI, tmux, the relay, the exec client, the harness's share), and what the machine
#: keeps for itself
TRIAL_MB, RESERVE_MB = 512, 1024


def concurrency_for(cores: int, available_mb: float, *, per_core: int = TRIALS_PER_CORE,
                    trial_mb: float = TRIAL_MB, reserve_mb: float = RESERVE_MB) -> int:
    """How many trials to run at once on a machine with ``cores`` and ``available_mb`` of free
    memory: the smaller of what the cores and what the memory carry, at least 1. Memory is
    the limit a trial cannot wait out (the kernel kills a process, the trial fails), so it
    caps what the cores would allow."""
    by_cpu = max(1, cores) * per_core
    by_mem = int(max(0.0, available_mb - reserve_mb) // trial_mb)
    return max(1, min(by_cpu, by_mem))


def available_mb(meminfo: str = "/proc/meminfo") -> float:
    """Memory the kernel says can be given out without swapping (MemAvailable), in MiB;
    total physical memory where that cannot be read."""
    try:
        with open(meminfo) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (OSError, ValueError):
        return float(TRIAL_MB + RESERVE_MB)  # unknown: one trial


def default_concurrency() -> int:
    """From this machine's cores and free memory (:func:`concurrency_for`)."""
    return concurrency_for(os.cpu_count() or 1, available_mb())


@dataclass
class RunOptions:
    agent: str
    variants: list[Variant]             # baseline first
    trials: int = 1
    #: trials at once; with the ray executor (``harness.executors``) per node, 0 = its own default
    concurrency: int = field(default_factory=default_concurrency)
    model: str = "claude-sonnet-4-5"
    permission_mode: str = "bypass"
    timeout_sec: float | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    offline_tests: bool = True
    infra_retries: int = 4
    #: the waits between infra retries grow and add up to this: long enough to ride out an
    #: engine restart (a dockerd restart took 6 s; three tries a second apart all fell in it)
    infra_backoff_sec: float = field(default_factory=lambda: float(os.environ.get("HARNESS_INFRA_BACKOFF_SEC", "30")))
    keep: bool = False                  # keep containers (for attach after the run)
    fresh_sandbox: bool = False         # a new container per trial (no warm reuse)
    judge_base_url: str | None = None
    #: where trials run: a name in ``harness.providers.REGISTRY`` (or ``module:Class``)
    provider: str = providers.DEFAULT
    #: replay's cassette, for executors whose nodes start their own Gateway
    cassette: str | None = None

    def __post_init__(self) -> None:
        # a wrong name fails here, before a run is created in the store
        if self.provider not in providers.REGISTRY and ":" not in self.provider:
            providers.get_provider(self.provider)


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    running: int = 0
    passed: int = 0
    failed: int = 0
    unscorable: int = 0
    started: float = field(default_factory=time.monotonic)
    attach: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def eta_sec(self) -> float | None:
        if self.done == 0:
            return None
        rate = (time.monotonic() - self.started) / self.done
        return rate * (self.total - self.done)


class Runner:
    """Owns the sandbox provider, the store and the workers of one run."""

    def __init__(self, suite: Suite, opts: RunOptions, paths: RunPaths, store: Store, *,
                 gateway: Gateway | None, profile: AgentProfile,
                 on_event: Callable[[str, str], None] | None = None) -> None:
        self.suite, self.opts, self.paths, self.store = suite, opts, paths, store
        self.gateway, self.profile = gateway, profile
        self.progress = Progress()
        self.on_event = on_event or (lambda kind, msg: None)
        self._stop = threading.Event()
        self._provider: SandboxProvider | None = None
        self._task_images: dict[str, tuple[str, str]] = {}
        self._fatal: str | None = None  # why the run stopped early (a refused model key)
        self._start_gate = StartGate()  # this machine's CLIs start a few at a time

    # ------------------------------------------------------------------ planning

    def plans(self) -> list[TrialPlan]:
        out = []
        for task in self.suite.tasks:
            for v in self.opts.variants:
                for a in range(self.opts.trials):
                    out.append(TrialPlan(task, v, a))
        return out

    def write_run_files(self, config: dict[str, Any]) -> None:
        self.paths.run_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config.write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        for v in self.opts.variants:
            for rel, data in variant_bytes(v).items():
                dest = self.paths.variant_dir(v.name) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)

    # ------------------------------------------------------------------ running

    def pending(self) -> list[TrialPlan]:
        """The plans not yet complete in the store (what an executor is handed); sets the
        progress totals."""
        plans = self.plans()
        done = self.store.completed_keys(self.paths.run_id)
        self.progress.total, self.progress.done = len(plans), len(done)
        return [p for p in plans if p.key not in done]

    def run(self) -> list[TrialOutcome]:
        """Every pending plan on this machine's thread workers; returns this invocation's
        outcomes. (``launch`` hands the runner to the executor the run asked for instead.)"""
        return self.run_local(self.pending())

    def run_local(self, todo: list[TrialPlan]) -> list[TrialOutcome]:
        """The local executor: ``opts.concurrency`` thread workers on this machine's engine."""
        provider = self._provider = providers.get_provider(self.opts.provider)
        say = lambda m: self.on_event("image", m)
        try:
            provider.start(self.paths.run_id, say)
            image = provider.ensure_image(self.profile.spec.image)
            self._task_images = provider.task_images(self.suite.tasks, image)
        except BaseException:
            provider.close()
            raise
        q = _AffinityQueue(todo)
        results: list[TrialOutcome] = []
        lock = threading.Lock()
        n = max(1, min(self.opts.concurrency, len(todo) or 1))
        workers = [threading.Thread(target=self._worker, args=(q, image, results, lock), daemon=True,
                                    name=f"trial-worker-{i}") for i in range(n)]
        for w in workers:
            w.start()
        try:
            for w in workers:
                while w.is_alive():
                    w.join(timeout=0.2)
        except KeyboardInterrupt:
            self._stop.set()
            self.store.set_run_status(self.paths.run_id, "interrupted")
            self.store.event(self.paths.run_id, "interrupted", "stopped by the user; resume with --resume")
            raise
        finally:
            provider.close()
        if self._fatal is not None:
            self.store.set_run_status(self.paths.run_id, "stopped")
            self.store.event(self.paths.run_id, "stopped", self._fatal)
            mode = self.gateway.mode if self.gateway is not None else "model"
            raise GatewayError(self._fatal, hint=auth_hint(mode, self.paths.run_id))
        return results

    def _env(self) -> TrialEnv:
        o = self.opts
        return TrialEnv(
            run_id=self.paths.run_id, paths=self.paths, agent=o.agent, profile=self.profile,
            model=o.model, gateway=self.gateway, provider=self._need_provider(),
            permission_mode=o.permission_mode, timeout_override=o.timeout_sec,
            offline_tests=o.offline_tests, judge_base_url=o.judge_base_url,
            on_started=self._started, start_gate=self._start_gate,
        )

    def _need_provider(self) -> SandboxProvider:
        if self._provider is None:
            raise HarnessError("the run has no sandbox provider yet", hint="call Runner.run()")
        return self._provider

    def _started(self, plan: TrialPlan, attach: str, view: str = "") -> None:
        with self.progress.lock:
            self.progress.attach[plan.label] = attach
        self.store.event(self.paths.run_id, "attach", attach, plan.label)
        if view:  # how `harness watch` reads the pane without a terminal
            self.store.event(self.paths.run_id, "view", view, plan.label)

    def _worker(self, q: _AffinityQueue, image: str, results: list[TrialOutcome],
                lock: threading.Lock) -> None:
        warm: TaskSandbox | None = None
        env = self._env()
        try:
            while not self._stop.is_set():
                plan = q.take(warm.task_id if warm is not None else None)
                if plan is None:
                    return
                with self.progress.lock:
                    self.progress.running += 1
                self.on_event("start", plan.label)
                try:
                    outcome, warm = self._one(env, plan, image, warm)
                finally:
                    with self.progress.lock:
                        self.progress.running -= 1
                if outcome is None or self._stop.is_set():
                    # stopped (Ctrl-C) while it ran: not a result; --resume runs it again
                    return
                self._record(outcome)
                with lock:
                    results.append(outcome)
                if outcome.extra.get("model_fault") == "auth" and self._fatal is None:
                    # a refused key fails every trial the same way: stop at the first
                    self._fatal = f"stopped at {plan.label}: {outcome.record.reason}"
                    self._stop.set()
        finally:
            if warm is not None:
                self._let_go(warm)

    def _one(self, env: TrialEnv, plan: TrialPlan, image: str,
             warm: TaskSandbox | None) -> tuple[TrialOutcome | None, TaskSandbox | None]:
        state: dict[str, TaskSandbox | None] = {"warm": warm}

        def attempt() -> TrialOutcome | None:
            if self._stop.is_set():
                return None
            w = state["warm"]
            t0 = time.monotonic()
            # why not reuse the warm container: asked not to, or its reset cannot be trusted
            fresh_why = ""
            if w is not None and w.task_id == plan.task.id:
                fresh_why = "--fresh-sandbox" if self.opts.fresh_sandbox else w.no_reuse
            reused = w is not None and w.task_id == plan.task.id and not fresh_why
            try:
                if not reused:
                    if w is not None:
                        self._let_go(w)
                    state["warm"] = None
                    timage, workdir = self._task_images.get(plan.task.id, (image, "/workspace"))
                    w = state["warm"] = env.provider.create(SandboxRequest(
                        plan.task, image=timage, workdir=workdir, run_id=self.paths.run_id,
                        limits=self.opts.limits, gateway_url=self.gateway.url if self.gateway else None,
                    ))
            except HarnessError as exc:
                old = state["warm"]
                if old is not None:
                    old.close()
                state["warm"] = None
                return _timed(env, plan, _infra_outcome(env, plan, exc.one_line()), False, None, t0)
            assert w is not None
            t_ready = time.monotonic() - t0
            out = run_trial(env, plan, w)
            if w.fresh_reason:  # the warm reset failed: begin replaced the container
                reused, fresh_why, w.fresh_reason = False, w.fresh_reason, ""
                self.store.event(self.paths.run_id, "fresh_sandbox", fresh_why, plan.label)
            if fresh_why:
                out.extra["fresh_reason"] = fresh_why
            out = _timed(env, plan, out, reused, t_ready, t0)
            last = state["warm"]
            if (out.record.status == "infra_error" or out.extra.get("sandbox_wrecked")) and last is not None:
                self._let_go(last)  # never reuse a sandbox that failed us (--keep: kept)
                state["warm"] = None
            return out

        def is_infra(o: TrialOutcome | None) -> bool:
            if o is None or o.record.status != "infra_error" or self._stop.is_set():
                return False
            if o.extra.get("model_fault") == "auth":
                return False  # a refused key stays refused: the run stops instead
            self.store.event(self.paths.run_id, "infra_error", o.record.reason, plan.label)
            return True

        outcome: TrialOutcome | None = Retrying(
            stop=stop_after_attempt(1 + self.opts.infra_retries),
            wait=lambda rs: backoff_sec(rs.attempt_number, self.opts.infra_retries, self.opts.infra_backoff_sec),
            retry=retry_if_result(is_infra), retry_error_callback=_last_result,
        )(attempt)
        return outcome, state["warm"]

    def _let_go(self, warm: TaskSandbox) -> None:
        """Done with a sandbox: removed; with --keep left for the user as its provider can
        (a container left running to attach to; `harness gc` removes it later)."""
        if not self.opts.keep:
            warm.close()
            return
        self.store.event(self.paths.run_id, "kept", self._need_provider().keep(warm), warm.task_id)

    def _record(self, outcome: TrialOutcome) -> None:
        rec = outcome.record
        row = rec.model_dump(mode="json")
        extra = outcome.extra
        row.update(checks=[c.model_dump(mode="json") for c in rec.check_results],
                   tokens={"input": rec.tokens.input, "output": rec.tokens.output},
                   artifacts=rec.artifacts.dir, agent_sec=extra.get("agent_sec"),
                   started_at=extra.get("started_at"), finished_at=extra.get("finished_at"),
                   warm=extra.get("warm"), sandbox_sec=extra.get("sandbox_sec"),
                   wall_sec=extra.get("wall_sec"), timing=extra.get("timing"), node=extra.get("node"))
        self.store.record_trial(self.paths.run_id, row)
        with self.paths.trials_file.open("a") as fh:
            fh.write(rec.model_dump_json() + "\n")
        with self.progress.lock:
            p = self.progress
            p.done += 1
            if rec.status == "passed":
                p.passed += 1
            elif rec.status in ("failed", "timeout"):
                p.failed += 1
            else:
                p.unscorable += 1
        self.on_event("done", f"{rec.task_id}/{rec.variant}/{rec.attempt}: {rec.status} ({rec.reason[:120]})")


class _AffinityQueue:
    """Plans grouped by task. A worker keeps taking its current task's plans (its warm
    sandbox is reused); otherwise it claims the task with the most plans left that no other
    worker holds, so N workers spread over tasks instead of all starting the same one."""

    def __init__(self, plans: list[TrialPlan]) -> None:
        self._lock = threading.Lock()
        self._by_task: dict[str, list[TrialPlan]] = {}
        for p in sorted(plans, key=lambda p: (p.task.id, p.variant.name, p.attempt)):
            self._by_task.setdefault(p.task.id, []).append(p)
        self._held: dict[str, int] = {}

    def take(self, current: str | None) -> TrialPlan | None:
        with self._lock:
            if current is not None:
                self._held[current] = max(0, self._held.get(current, 1) - 1)
                if self._by_task.get(current):
                    self._held[current] += 1
                    return self._by_task[current].pop(0)
            left = [(t, ps) for t, ps in self._by_task.items() if ps]
            if not left:
                return None
            free = [x for x in left if self._held.get(x[0], 0) == 0] or left
            task, plans = max(free, key=lambda x: len(x[1]))
            self._held[task] = self._held.get(task, 0) + 1
            return plans.pop(0)


def _timed(env: TrialEnv, plan: TrialPlan, out: TrialOutcome, reused: bool, ready_sec: float | None,
           t0: float) -> TrialOutcome:
    """The runner's own timings of a trial into its outcome and its ``result.json``."""
    out.extra.update(warm=reused, sandbox_sec=None if ready_sec is None else round(ready_sec, 4),
                     wall_sec=round(time.monotonic() - t0, 4))
    write_result(env.paths.trial(*plan.key), out)
    return out


def _infra_outcome(env: TrialEnv, plan: TrialPlan, reason: str) -> TrialOutcome:
    from gate.models import TrialRecord
    from harness.runner.faults import existing_artifacts

    tp = env.paths.trial(*plan.key)
    tp.dir.mkdir(parents=True, exist_ok=True)
    rec = TrialRecord(run_id=env.run_id, task_id=plan.task.id, variant=plan.variant.name,
                      attempt=plan.attempt, split=plan.task.split, status="infra_error", reason=reason,
                      artifacts=existing_artifacts(tp, str(tp.dir.relative_to(env.paths.run_dir))))
    out = TrialOutcome(rec, {})
    write_result(tp, out)
    return out


def _last_result(rs: RetryCallState) -> TrialOutcome | None:
    """Out of infra retries: the last try's outcome stands (an infra_error row)."""
    assert rs.outcome is not None  # tenacity calls this only after a try
    return rs.outcome.result()


def backoff_sec(attempt: int, retries: int, total_sec: float) -> float:
    """The wait after failed try ``attempt`` (1-based): doubling each time, the ``retries``
    waits adding up to ``total_sec`` (4 retries over 30 s: 2, 4, 8, 16)."""
    if retries <= 0 or total_sec <= 0:
        return 0.0
    first = total_sec / (2 ** retries - 1)
    return first * 2 ** (min(attempt, retries) - 1)


def check_variants(variants: list[Variant]) -> None:
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"two variants share a name: {', '.join(names)}")
    if not variants:
        raise ConfigError("no variant to run", hint="pass --variant baseline=PATH (and candidates)")

