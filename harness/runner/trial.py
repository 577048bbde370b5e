"""One Trial end to end: variant in, agent launched in tmux, turns driven, evidence collected,
checks run, a ``TrialRecord`` written.

Status, from least to most the agent's fault (see gate.scoring.outcome_status):
``infra_error`` (sandbox / engine / Gateway / API failures, setup that failed, a model reply
that never came, a refused key), ``agent_error`` (the CLI crashed, exited, showed a dialog
we do not know, or wrecked its own sandbox: see ``faults``),
``timeout`` (the trial deadline passed; the agent was interrupted), then the checks:
``passed`` when all pass, else ``failed``. Infra failures are never scored as task failures.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from controllers.profiles.base import AgentProfile, LaunchContext, Variant
from controllers.profiles.common import WRITE_ROOTS
from controllers.profiles.driver import AgentDriver, TurnOutcome
from controllers.sandbox.base import Sandbox, SupportsCopy
from controllers.snapshot import Snapshot
from controllers.tmux.controller import TmuxController
from gate.checks import CheckContext, evaluate_all
from gate.models import CheckResult, Tokens, TrialEvidence, TrialRecord
from gate.models import ToolCall as GateToolCall
from gate.scoring import outcome_status
from harness import episode as episode_mod
from harness.errors import (
    AgentError,
    CheckTimeout,
    CollectTimeout,
    DriveTimeout,
    ExecTimeout,
    HarnessError,
    LaunchTimeout,
    PhaseTimeout,
    SandboxError,
    SetupTimeout,
    WaitTimeout,
)
from harness.providers.base import SandboxProvider, TaskSandbox
from harness.runner import faults
from harness.runner.evidence import write_pane
from harness.runner.paths import RunPaths, TrialPaths
from harness.runner.startgate import Slot, StartGate
from harness.tasks import shims

if TYPE_CHECKING:
    from harness.gateway.server import Gateway
    from harness.tasks.schema import Task

log = logging.getLogger(__name__)
AGENT_PATH = "/harness/tools/bin:/opt/harness/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class TrialPlan:
    task: Task
    variant: Variant
    attempt: int

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task.id, self.variant.name, self.attempt)

    @property
    def label(self) -> str:
        return f"{self.task.id}/{self.variant.name}/{self.attempt}"


@dataclass
class TrialEnv:
    """What every trial of a run shares."""

    run_id: str
    paths: RunPaths
    agent: str
    profile: AgentProfile
    model: str
    gateway: Gateway | None
    provider: SandboxProvider
    permission_mode: str = "bypass"
    timeout_override: float | None = None
    offline_tests: bool = True
    judge_base_url: str | None = None
    on_started: Callable[[TrialPlan, str, str], None] | None = None  # (plan, attach, view command)
    #: how many CLIs may start at once on this machine; None = no limit (see startgate)
    start_gate: StartGate | None = None


@dataclass
class TrialOutcome:
    record: TrialRecord
    extra: dict[str, Any] = field(default_factory=dict)


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _evidence(ep: episode_mod.Episode, diff: str, changed: list[str], tools: list[dict[str, Any]],
              box: Sandbox, tokens: tuple[int, int], workdir: str) -> TrialEvidence:
    calls = [GateToolCall(c.name, dict(c.input), c.output, c.is_error) for c in ep.tool_calls]
    # tool shims log what really ran: add them as calls of the shim's name
    calls += [GateToolCall(str(t.get("tool")), {"args": t.get("args")}, "", False) for t in tools]

    def run(cmd: list[str], timeout_sec: float) -> tuple[int, str, str]:
        r = box.exec(cmd, cwd=workdir, timeout_sec=timeout_sec)
        return r.exit_code, r.stdout, r.stderr

    return TrialEvidence(
        final_answer=ep.final_answer, tool_calls=tuple(calls), turns=len(ep.turns),
        input_tokens=tokens[0], output_tokens=tokens[1], diff=diff,
        changed_paths=tuple(changed), exec=run,
    )


def _tests_checks(task: Task, box: Sandbox, offline: bool) -> list[dict[str, Any]]:
    """A task's hidden tests go in only after the agent is done, then run as a check."""
    spec = getattr(task, "tests", None)
    if spec is None:
        return []
    if spec.dir:
        if not isinstance(box, SupportsCopy):
            raise SandboxError(f"task {task.id}: its tests folder cannot be copied into this sandbox",
                               hint="run it with --provider docker")
        box.exec(["mkdir", "-p", spec.test_dir], user="root")
        box.copy_in(task.resolve(spec.dir), spec.test_dir, user="root")
    cmd = (spec.offline_cmd if offline and spec.offline_cmd else spec.cmd)
    full = f"export TEST_DIR={spec.test_dir}; {cmd}"
    return [{"op": "tests", "name": "task tests", "cmd": ["bash", "-c", full], "format": spec.format,
             "timeout_sec": spec.timeout_sec}]


def _episode_from(text: str, box: Sandbox, profile: AgentProfile, tp: TrialPaths,
                  turns_sent: int) -> episode_mod.Episode:
    """The Episode from the transcript the collect exec brought back, if it is whole;
    otherwise re-read it for a moment (the CLI may still be flushing)."""
    if text:
        _write(tp.transcript, text)
        ep = profile.parse_transcript(tp.transcript)
        if len(ep.turns) >= turns_sent and (not ep.turns or ep.turns[-1].final_text):
            return ep
    return _transcript(box, profile, tp, turns_sent)


def _transcript(box: Sandbox, profile: AgentProfile, tp: TrialPaths, turns_sent: int,
                wait_sec: float = 3.0) -> episode_mod.Episode:
    """The CLI's session file, once it holds every turn we sent and the last one's answer.

    The completion hook can fire before the CLI has flushed its final lines (claude runs
    its Stop hook first), so the file is re-read for a short while until it is whole.
    """
    spec = profile.spec
    if not spec.transcript_glob:
        return episode_mod.Episode(agent=spec.name)
    deadline = time.monotonic() + wait_sec
    ep = episode_mod.Episode(agent=spec.name)
    while True:
        r = box.exec(["sh", "-c", (f"f=$(ls -t {spec.transcript_glob} 2>/dev/null | head -n 1); "
                                   f'[ -n "$f" ] && cat "$f"')])
        if r.ok and r.stdout:
            _write(tp.transcript, r.stdout)
            ep = profile.parse_transcript(tp.transcript)
            if len(ep.turns) >= turns_sent and (not ep.turns or ep.turns[-1].final_text):
                return ep
        if time.monotonic() >= deadline:
            return ep
        time.sleep(0.1)


def run_trial(env: TrialEnv, plan: TrialPlan, warm: TaskSandbox) -> TrialOutcome:
    """Run one trial in a prepared sandbox. Never raises for what the agent did."""
    return Trial(env, plan, warm).run()


@contextmanager
def _phase(timeout_error: type[PhaseTimeout]) -> Iterator[None]:
    """A wait or a required command that ran out of time inside a phase is that phase's own
    timeout (same blame as before: machinery, unless the sandbox is found wrecked)."""
    try:
        yield
    except (WaitTimeout, ExecTimeout) as exc:
        raise timeout_error(exc.one_line(), screen=getattr(exc, "screen", "")) from exc


class Trial:
    """One trial, one method per phase: ``set_up`` (Gateway key, the trial's files, the
    agent's tmux server), ``launch`` (recording, the CLI ready), ``drive`` (the turns),
    ``collect`` (pane, diff, transcript, usage, faults), ``check``; ``run`` chains them and
    turns what went wrong into a status. Each phase raises its own ``PhaseTimeout``."""

    def __init__(self, env: TrialEnv, plan: TrialPlan, warm: TaskSandbox) -> None:
        self.env, self.plan, self.warm = env, plan, warm
        self.tp = env.paths.trial(*plan.key)
        self.task, self.spec = plan.task, env.profile.spec
        self.trial_id = f"{env.run_id}/{plan.label}"
        self.timeout = float(env.timeout_override or plan.task.timeout_for(env.agent))
        self.box: Sandbox = warm.box
        self.ctl: TmuxController | None = None
        self.drv: AgentDriver | None = None
        self.extra: dict[str, Any] = {"turns": [], "dialogs": [], "agent": env.agent,
                                      "sandbox": env.provider.describe(warm)}
        self.flags = {"timed_out": False, "agent_error": False, "infra_error": False}
        self.reason = ""
        self.checks: list[CheckResult] = []
        self.ep = episode_mod.Episode(agent=self.spec.name)
        self.tokens = (0, 0)
        self.agent_sec = 0.0
        self.timing: dict[str, float] = {}
        self.t_agent: float | None = None
        self.post: Snapshot | None = None
        self.outcomes: list[TurnOutcome] = []
        self.evidence: TrialEvidence | None = None
        self.specs: list[dict[str, Any]] = []
        self.slot: Slot | None = None  # this CLI's turn to start, held until it is ready
        self.t0 = self._mark = time.monotonic()

    def _lap(self, name: str) -> None:
        now = time.monotonic()
        self.timing[name] = round(now - self._mark, 4)
        self._mark = now

    def run(self) -> TrialOutcome:
        self.tp.dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        self.t0 = self._mark = time.monotonic()
        try:
            self.set_up()
            self.launch()
            self.drive()
            self.collect()
            self.check()
        except AgentError as exc:
            gone = faults.engine_gone(self.box)  # a CLI "gone" with the engine is not the agent's fault
            self.flags["infra_error" if gone else "agent_error"] = True
            self.reason = f"{gone} ({exc.one_line()})" if gone else exc.one_line()
            self.extra["screen"] = exc.screen[-4000:]
            if exc.screen:
                _write(self.tp.pane, exc.screen)
        except HarnessError as exc:
            self.reason = _blame(exc, self.reason, self.flags, self.extra, self.box, self.warm.workdir,
                                 self.t_agent is not None)
        except Exception as exc:
            log.exception("trial %s crashed", self.plan.label)
            self.flags["infra_error"], self.reason = True, f"harness error: {type(exc).__name__}: {exc}"
        finally:
            self._release()
        return self._finish(started)

    def set_up(self) -> None:
        """The Gateway's key for this trial, the agent's files written (after the last trial's
        reset) and its tmux server started: one exec in the common case."""
        env, warm, plan = self.env, self.warm, self.plan
        with _phase(SetupTimeout):
            key = (env.gateway.register_trial(self.trial_id, policy=self.task.policy_source(),
                                              model=env.model) if env.gateway else None)
            ctl = self.ctl = env.provider.controller(warm)
            ctx = LaunchContext(
                gateway_url=warm.gateway_url, api_key=key.key if key else "none",
                model=env.model, workdir=warm.workdir, tmux_socket=ctl.socket_path,
                permission_mode=env.permission_mode,
            )
            files = env.profile.files(ctx, plan.variant, warm.workdir)
            launch = env.profile.launch(ctx)
            launch.env.update(PATH=AGENT_PATH, HARNESS_TOOLS_LOG=shims.LOG_PATH, HARNESS_TOOL_DATA=shims.DATA_DIR,
                              TASK_WORKDIR=warm.workdir)
            roots = (*WRITE_ROOTS, warm.workdir)
            self._wait_for_start_slot()
            # the diff's baseline: the pristine state, unless the variant wrote into the workspace
            in_ws = any(p.startswith(warm.workdir.rstrip("/") + "/") for p in files)
            if in_ws:
                warm.begin(files, roots=roots)
                self.post = warm.snapper.snapshot(f"t{warm.trials}")
                self._lap("install_and_snapshot")
                self.t_agent = time.monotonic()
                ctl.start(launch.argv, env=launch.env, cwd=launch.cwd, width=200, height=50)
            else:
                # the last trial's reset, this one's files and the CLI's start: one exec
                self.post = warm.pristine
                start = ctl.start_argv(launch.argv, env=launch.env, cwd=launch.cwd, width=200, height=50)
                ctl.started(warm.begin(files, roots=roots, then=start))
                self._lap("install_and_snapshot")
                self.t_agent = time.monotonic()

    def launch(self) -> None:
        """The pane recorded, the watchers told where to attach, the CLI ready for a prompt."""
        env, ctl = self.env, self._ctl()
        with _phase(LaunchTimeout):
            ctl.start_recording(self.tp.cast, title=self.plan.label)
            if env.on_started:
                env.on_started(self.plan, ctl.attach_command(), ctl.view_command())
            gw, tid = env.gateway, self.trial_id
            self.drv = AgentDriver(self.spec, ctl, self.box,
                                   activity=(lambda: len(gw.exchanges(tid))) if gw else None,
                                   abort=(lambda: faults.key_refused(gw, tid)) if gw else None,
                                   waiting=(lambda: gw.waiting_sec(tid)) if gw else None)
            self.drv.wait_ready(timeout_sec=min(self.spec.startup_sec, self.timeout))
        self._leave_start_slot()  # ready: the next CLI may start
        self._lap("ready")

    def drive(self) -> None:
        """The agent's turns until one does not end by its completion signal; the trial's
        deadline passing is the ``timeout`` status (``DriveTimeout``'s message is the reason)."""
        ctl, drv, spec = self._ctl(), self.drv, self.spec
        assert drv is not None, "launch() comes first"
        with _phase(DriveTimeout):
            for text in _turns(self.env, self.task, self.box):
                remaining = max(self.timeout - (time.monotonic() - self.t0), 1.0)
                out = _shell_turn(ctl, text, remaining) if spec.completion == "shell" else \
                    drv.run_turn(text, timeout_sec=remaining)
                self.outcomes.append(out)
                self.extra["turns"].append({"how": out.how, "seconds": round(out.seconds, 3),
                                            "done_at": out.done_at, "detail": out.detail})
                if out.how != "signal" and out.how != "screen":
                    break
        assert self.t_agent is not None
        self.agent_sec = time.monotonic() - self.t_agent
        self._mark = time.monotonic()
        self.extra["dialogs"] = drv.log.dialogs
        last = self.outcomes[-1] if self.outcomes else None
        if last is not None and last.how == "timeout":
            self.flags["timed_out"], self.reason = True, DriveTimeout.after(self.timeout).one_line()
        elif last is not None and last.how in ("exited", "blocked"):
            self.flags["agent_error"] = True
            self.reason = (f"{spec.name} exited mid-trial ({last.detail})" if last.how == "exited"
                           else f"{spec.name} showed a dialog the harness does not know: {last.detail!r}")
            self.extra["screen"] = last.screen[-4000:]
            gone = faults.engine_gone(self.box) if last.how == "exited" else None
            if gone:  # the CLI's channel died with the engine, not by the agent's hand
                self.flags["agent_error"], self.flags["infra_error"], self.reason = False, True, gone

    def collect(self) -> None:
        """The settled pane, the diff against the baseline, the transcript as an Episode, the
        tokens, and what the Gateway saw go wrong with the model."""
        env, tp, spec, flags = self.env, self.tp, self.spec, self.flags
        with _phase(CollectTimeout):
            last = self.outcomes[-1] if self.outcomes else None
            finished = last is None or last.how in ("signal", "screen")
            self.extra["pane"] = write_pane(self._ctl(), spec, tp.pane, finished=finished)  # settled, wipe-proof
            globs = [spec.transcript_glob, *spec.transcript_beside] if spec.transcript_glob else []
            # the workspace's own .git/HEAD rides along: gone means the agent deleted its repo
            # (the harness's diff does not need it: its git state is out of the agent's reach)
            head_glob = f"{self.warm.workdir.rstrip('/')}/.git/HEAD"
            assert self.post is not None
            diff, changes, tools_text, found = self.warm.snapper.report(
                self.post, shims.LOG_PATH, *globs, head_glob, faults.PIDS_CURRENT, faults.PIDS_MAX)
            found, (head, pids_now, pids_max) = found[:-3], found[-3:]
            for path, text in zip(spec.transcript_beside, found[1:]):
                if text:  # before the parse: the parser reads them beside the transcript
                    _write(tp.transcript.with_name(PurePosixPath(path).name), text)
            wrecked = ([] if head.strip() else [faults.git_gone(self.warm.workdir)]) + (
                [f] if (f := faults.pids_from_cgroup(pids_now, pids_max)) else [])
            if wrecked and not flags["agent_error"] and not flags["infra_error"]:
                flags["agent_error"] = True
                self.reason = f"the agent wrecked its sandbox: {'; '.join(wrecked)}"
                self.extra["sandbox_wrecked"] = True
            self.ep = ep = _episode_from(found[0] if found else "", self.box, env.profile, tp, len(self.outcomes))
            _write(tp.episode, ep.model_dump_json(indent=2))
            if env.gateway is not None:
                u = env.gateway.usage(self.trial_id)
                self.tokens = (u.input_tokens, u.output_tokens)
            else:
                self.tokens = (ep.usage.input_tokens, ep.usage.output_tokens)
            fault = faults.model_fault(env.gateway, self.trial_id, timed_out=flags["timed_out"],
                                       timeout_sec=self.timeout) if env.gateway is not None else None
            if fault is not None and fault.kind in ("auth", "stalled"):
                # a refused key or a reply that never came: never the agent's doing
                flags["infra_error"], self.reason = True, fault.reason
                self.extra["model_fault"] = fault.kind
            elif ep.api_errors and not flags["agent_error"]:
                flags["infra_error"], self.reason = True, f"model API error: {ep.api_errors[-1][:200]}"
            elif fault is not None and not flags["agent_error"]:
                # codex keeps no error line in its session file: the Gateway saw it fail
                flags["infra_error"], self.reason = True, fault.reason
            _write(tp.diff, diff)
            changed = [c.path for c in changes]
            _write(tp.tools_log, tools_text)
            self.specs = list(self.task.checks_for(env.agent)) + _tests_checks(self.task, self.box,
                                                                               env.offline_tests)
            self.evidence = _evidence(ep, diff, changed, shims.read_tools_log(tools_text), self.box, self.tokens,
                                      self.warm.workdir)
            self._lap("collect")

    def check(self) -> None:
        """The task's checks on the evidence; the reason names the ones that failed."""
        assert self.evidence is not None, "collect() comes first"
        with _phase(CheckTimeout):
            self.checks = evaluate_all(self.specs, self.evidence, _check_ctx(self.env))
            self._lap("checks")
        if not any(self.flags.values()):
            failed = [c for c in self.checks if not c.passed]
            self.reason = "; ".join(f"{c.name}: {c.reason}" for c in failed)[:500] if failed \
                else "all checks passed"

    def _ctl(self) -> TmuxController:
        assert self.ctl is not None, "set_up() comes first"
        return self.ctl

    def _wait_for_start_slot(self) -> None:
        """Wait for this machine's start gate (see ``startgate``). The wait is not the
        trial's: the clock that gives its deadline and ``duration_sec`` moves on by it."""
        gate = self.env.start_gate
        if gate is None:
            return
        self.slot = gate.enter()
        self.t0 += self.slot.waited
        self._mark += self.slot.waited
        self.timing["start_queue"] = round(self.slot.waited, 4)

    def _leave_start_slot(self) -> None:
        if self.slot is not None:
            self.slot.leave()
            self.extra["start_slot"] = self.slot.evidence()

    def _release(self) -> None:
        """The recording stopped, a wrecked sandbox salvaged, the controller let go (the warm
        reset or the sandbox's removal ends its tmux server)."""
        self._leave_start_slot()  # a CLI that never got ready gives its turn back
        ctl = self.ctl
        if ctl is None:
            return
        with suppress(Exception):
            ctl.stop_recording()
        if self.flags["agent_error"] and self.extra.get("sandbox_wrecked"):
            _salvage(ctl, self.box, self.env.profile, self.tp, self.warm, self.post)
        ctl.close(kill_server=False)

    def _finish(self, started: float) -> TrialOutcome:
        env, plan, tp, ep = self.env, self.plan, self.tp, self.ep
        status = outcome_status(self.checks, **self.flags)
        record = TrialRecord(
            run_id=env.run_id, task_id=self.task.id, variant=plan.variant.name, attempt=plan.attempt,
            split=self.task.split, status=status, reason=self.reason, check_results=self.checks,
            tokens=Tokens(input=self.tokens[0], output=self.tokens[1]),
            duration_sec=round(time.monotonic() - self.t0, 3),
            tool_turns=len(ep.tool_calls), steps_to_green=_steps_to_green(ep),
            error_signatures=_error_signatures(ep),
            artifacts=faults.existing_artifacts(tp, str(tp.dir.relative_to(env.paths.run_dir))),
        )
        self._lap("teardown")
        self.extra.update(started_at=started, finished_at=time.time(), agent_sec=round(self.agent_sec, 3),
                          timing=self.timing)
        outcome = TrialOutcome(record, self.extra)
        write_result(tp, outcome)
        return outcome


def write_result(tp: TrialPaths, outcome: TrialOutcome) -> None:
    """``result.json``: the record and everything measured (the complete marker). The runner
    writes it again once it has timed the whole trial; the rename keeps it whole meanwhile."""
    tmp = tp.result.with_name(tp.result.name + ".tmp")
    data = {"record": outcome.record.model_dump(mode="json"), "extra": outcome.extra}
    _write(tmp, json.dumps(data, indent=2, default=str))
    tmp.replace(tp.result)


def _blame(exc: HarnessError, reason: str, flags: dict[str, bool], extra: dict[str, Any], box: Sandbox,
           workdir: str, agent_started: bool) -> str:
    """A machinery error mid-trial: the agent's doing when it already failed (its CLI exited,
    then the collect could not read what it left) or when the sandbox is found wrecked from
    inside; otherwise infra (see ``faults``). Sets the flag; returns the trial's reason."""
    if flags["agent_error"]:
        found = faults.wreckage(box, workdir, agent_started)
        extra["sandbox_wrecked"] = "; ".join(found) or exc.one_line()[:300]
        return f"{reason}; {'; '.join(found)}" if found else reason
    who, why = faults.blame(exc, box, workdir, agent_started=agent_started)
    if who == "agent":
        flags["agent_error"] = True
        extra["sandbox_wrecked"] = why
    else:
        flags["infra_error"] = True
    return why


def _salvage(ctl: TmuxController, box: Sandbox, profile: AgentProfile, tp: TrialPaths, warm: TaskSandbox,
             post: Snapshot | None) -> None:
    """Keep what can still be read of a wrecked sandbox: the pane, the transcript, the diff.
    Each piece on its own: one that cannot be read does not stop the others."""
    steps: list[tuple[Path, Callable[[], Any]]] = [
        (tp.pane, lambda: ctl.capture_pane(history=True)),
        (tp.transcript, lambda: _transcript(box, profile, tp, 0, wait_sec=0.0) and None),
        (tp.transcript, lambda: faults.copy_newest(box, profile.spec.transcript_glob)),
        (tp.diff, lambda: warm.snapper.diff(post) if post is not None else None),
    ]
    for path, read in steps:
        if path.exists() and path.stat().st_size:
            continue
        try:
            text = read()
        except Exception:  # noqa: BLE001, S112 - wrecked: keep what can be read
            continue
        if text:
            _write(path, text)


def _shell_turn(ctl: TmuxController, cmd: str, timeout_sec: float) -> TurnOutcome:
    """A shell agent's turn: the command's own end marker is the exact completion signal."""
    t = time.monotonic()
    try:
        r = ctl.run_shell(cmd, timeout_sec=timeout_sec)
    except WaitTimeout:
        return TurnOutcome("timeout", time.monotonic() - t, time.time(), ctl.capture_pane())
    return TurnOutcome("signal", time.monotonic() - t, time.time(), "", f"exit {r.exit_code}")


def _turns(env: TrialEnv, task: Task, box: Sandbox) -> list[str]:
    """The agent chooses its turns (the task's prompts; the oracle's script; none for noop)."""
    return env.profile.turns(task, box)


def _check_ctx(env: TrialEnv) -> CheckContext:
    return CheckContext(judge_base_url=env.judge_base_url, judge_cache_dir=env.paths.root / ".judge-cache")


def _steps_to_green(ep: episode_mod.Episode) -> int | None:
    """Tool calls until a test command first passed (None when none did)."""
    for i, c in enumerate(ep.tool_calls, start=1):
        cmd = json.dumps(c.input)
        if ("pytest" in cmd or "test" in cmd) and not c.is_error and " passed" in c.output and " failed" not in c.output:
            return i
    return None


def _error_signatures(ep: episode_mod.Episode) -> list[str]:
    sigs = []
    for c in ep.tool_calls:
        if c.is_error or "Traceback" in c.output or "Error" in c.output:
            lines = [ln for ln in c.output.splitlines() if "Error" in ln or "error" in ln]
            if lines:
                sigs.append(lines[-1][:200])
    return sigs

