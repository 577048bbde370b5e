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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.profiles.base import STATE_DIR, AgentProfile, LaunchContext, Variant
from controllers.profiles.common import WRITE_ROOTS
from controllers.profiles.driver import AgentDriver, TurnOutcome
from controllers.tmux.controller import DockerTmuxController
from gate.checks import CheckContext, evaluate_all
from gate.models import CheckResult, TrialEvidence, TrialRecord
from gate.models import ToolCall as GateToolCall
from gate.scoring import outcome_status
from harness import episode as episode_mod
from harness.errors import AgentError, HarnessError, WaitTimeout
from harness.runner import faults
from harness.runner.evidence import write_pane
from harness.runner.paths import RunPaths, TrialPaths
from harness.runner.workspace import RELAY_PORT, WarmSandbox
from harness.tasks import shims

log = logging.getLogger(__name__)
AGENT_PATH = "/harness/tools/bin:/opt/harness/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class TrialPlan:
    task: Any
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
    gateway: Any | None
    client: Any
    permission_mode: str = "bypass"
    timeout_override: float | None = None
    offline_tests: bool = True
    judge_base_url: str | None = None
    on_started: Any = None  # callback(plan, attach_command, view_command)


@dataclass
class TrialOutcome:
    record: TrialRecord
    extra: dict[str, Any] = field(default_factory=dict)


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _evidence(ep: episode_mod.Episode, diff: str, changed: list[str], tools: list[dict[str, Any]],
              box: Any, tokens: tuple[int, int], workdir: str) -> TrialEvidence:
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


def _tests_checks(task: Any, box: Any, offline: bool) -> list[dict[str, Any]]:
    """A task's hidden tests go in only after the agent is done, then run as a check."""
    spec = getattr(task, "tests", None)
    if spec is None:
        return []
    if spec.dir:
        box.exec(["mkdir", "-p", spec.test_dir], user="root")
        box.copy_in(task.resolve(spec.dir), spec.test_dir, user="root")
    cmd = (spec.offline_cmd if offline and spec.offline_cmd else spec.cmd)
    full = f"export TEST_DIR={spec.test_dir}; {cmd}"
    return [{"op": "tests", "name": "task tests", "cmd": ["bash", "-c", full], "format": spec.format,
             "timeout_sec": spec.timeout_sec}]


def _episode_from(text: str, box: Any, profile: AgentProfile, tp: TrialPaths,
                  turns_sent: int) -> episode_mod.Episode:
    """The Episode from the transcript the collect exec brought back, if it is whole;
    otherwise re-read it for a moment (the CLI may still be flushing)."""
    if text:
        _write(tp.transcript, text)
        ep = profile.parse_transcript(tp.transcript)
        if len(ep.turns) >= turns_sent and (not ep.turns or ep.turns[-1].final_text):
            return ep
    return _transcript(box, profile, tp, turns_sent)


def _transcript(box: Any, profile: AgentProfile, tp: TrialPaths, turns_sent: int,
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


def run_trial(env: TrialEnv, plan: TrialPlan, warm: WarmSandbox) -> TrialOutcome:
    """Run one trial in a prepared sandbox. Never raises for what the agent did."""
    tp = env.paths.trial(*plan.key)
    tp.dir.mkdir(parents=True, exist_ok=True)
    task, spec = plan.task, env.profile.spec
    trial_id = f"{env.run_id}/{plan.label}"
    timeout = float(env.timeout_override or task.timeout_for(env.agent))
    started, t0 = time.time(), time.monotonic()
    box = warm.box
    ctl = None
    extra: dict[str, Any] = {"turns": [], "dialogs": [], "agent": env.agent}
    status_flags = {"timed_out": False, "agent_error": False, "infra_error": False}
    reason = ""
    checks: list[CheckResult] = []
    ep = episode_mod.Episode(agent=spec.name)
    tokens = (0, 0)
    agent_sec = 0.0
    timing: dict[str, float] = {}
    mark = time.monotonic()
    t_agent: float | None = None
    post = None

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timing[name] = round(now - mark, 4)
        mark = now

    try:
        key = env.gateway.register_trial(trial_id, policy=task.policy_source()) if env.gateway else None
        # the socket lives in the state dir written below: no extra exec to make a directory
        ctl = DockerTmuxController(box, transport="control",
                                   socket_path=f"{STATE_DIR}/tmux-{uuid.uuid4().hex[:8]}.sock")
        ctx = LaunchContext(
            gateway_url=f"http://127.0.0.1:{RELAY_PORT}", api_key=key.key if key else "none",
            model=env.model, workdir=warm.workdir, tmux_socket=ctl.socket_path,
            permission_mode=env.permission_mode,
        )
        files = env.profile.files(ctx, plan.variant, warm.workdir)
        launch = env.profile.launch(ctx)
        launch.env.update(PATH=AGENT_PATH, HARNESS_TOOLS_LOG=shims.LOG_PATH, HARNESS_TOOL_DATA=shims.DATA_DIR,
                          TASK_WORKDIR=warm.workdir)
        roots = (*WRITE_ROOTS, warm.workdir)
        # the diff's baseline: the pristine state, unless the variant wrote into the workspace
        in_ws = any(p.startswith(warm.workdir.rstrip("/") + "/") for p in files)
        if in_ws:
            warm.begin(files, roots=roots)
            post = warm.snapper.snapshot(f"t{warm.trials}")
            lap("install_and_snapshot")
            t_agent = time.monotonic()
            ctl.start(launch.argv, env=launch.env, cwd=launch.cwd, width=200, height=50)
        else:
            # the last trial's reset, this one's files and the CLI's start: one exec
            post = warm.pristine
            start = ctl.start_argv(launch.argv, env=launch.env, cwd=launch.cwd, width=200, height=50)
            ctl.started(warm.begin(files, roots=roots, then=start))
            lap("install_and_snapshot")
            t_agent = time.monotonic()
        ctl.start_recording(tp.cast, title=plan.label)
        if env.on_started:
            env.on_started(plan, ctl.attach_command(), ctl.view_command())
        gw = env.gateway
        drv = AgentDriver(spec, ctl, box, activity=(lambda: len(gw.exchanges(trial_id))) if gw else None,
                          abort=(lambda: faults.key_refused(gw, trial_id)) if gw else None)
        drv.wait_ready(timeout_sec=min(90.0, timeout))
        outcomes: list[TurnOutcome] = []
        for text in _turns(env, task, box):
            remaining = max(timeout - (time.monotonic() - t0), 1.0)
            out = _shell_turn(ctl, text, remaining) if spec.completion == "shell" else \
                drv.run_turn(text, timeout_sec=remaining)
            outcomes.append(out)
            extra["turns"].append({"how": out.how, "seconds": round(out.seconds, 3), "done_at": out.done_at,
                                   "detail": out.detail})
            if out.how != "signal" and out.how != "screen":
                break
        agent_sec = time.monotonic() - t_agent
        mark = time.monotonic()
        extra["dialogs"] = drv.log.dialogs
        last = outcomes[-1] if outcomes else None
        if last is not None and last.how == "timeout":
            status_flags["timed_out"], reason = True, f"trial timeout after {timeout:g}s"
        elif last is not None and last.how in ("exited", "blocked"):
            status_flags["agent_error"] = True
            reason = (f"{spec.name} exited mid-trial ({last.detail})" if last.how == "exited"
                      else f"{spec.name} showed a dialog the harness does not know: {last.detail!r}")
            extra["screen"] = last.screen[-4000:]
            gone = faults.engine_gone(box) if last.how == "exited" else None
            if gone:  # the CLI's channel died with the engine, not by the agent's hand
                status_flags["agent_error"], status_flags["infra_error"], reason = False, True, gone
        finished = last is None or last.how in ("signal", "screen")
        extra["pane"] = write_pane(ctl, spec, tp.pane, finished=finished)  # settled, wipe-proof
        globs = [spec.transcript_glob] if spec.transcript_glob else []
        diff, changes, tools_text, found = warm.snapper.report(post, shims.LOG_PATH, *globs)
        ep = _episode_from(found[0] if found else "", box, env.profile, tp, len(outcomes))
        _write(tp.episode, ep.model_dump_json(indent=2))
        if env.gateway is not None:
            u = env.gateway.usage(trial_id)
            tokens = (u.input_tokens, u.output_tokens)
        else:
            tokens = (ep.usage.input_tokens, ep.usage.output_tokens)
        fault = faults.model_fault(env.gateway, trial_id, timed_out=status_flags["timed_out"],
                                   timeout_sec=timeout) if env.gateway is not None else None
        if fault is not None and fault.kind in ("auth", "stalled"):
            # a refused key or a reply that never came: never the agent's doing
            status_flags["infra_error"], reason = True, fault.reason
            extra["model_fault"] = fault.kind
        elif ep.api_errors and not status_flags["agent_error"]:
            status_flags["infra_error"], reason = True, f"model API error: {ep.api_errors[-1][:200]}"
        elif fault is not None and not status_flags["agent_error"]:
            # codex keeps no error line in its session file: the Gateway saw it fail
            status_flags["infra_error"], reason = True, fault.reason
        _write(tp.diff, diff)
        changed = [c.path for c in changes]
        _write(tp.tools_log, tools_text)
        specs = list(task.checks_for(env.agent)) + _tests_checks(task, box, env.offline_tests)
        evidence = _evidence(ep, diff, changed, shims.read_tools_log(tools_text), box, tokens, warm.workdir)
        lap("collect")
        checks = evaluate_all(specs, evidence, _check_ctx(env))
        lap("checks")
        if not any(status_flags.values()):
            failed = [c for c in checks if not c.passed]
            reason = "; ".join(f"{c.name}: {c.reason}" for c in failed)[:500] if failed else "all checks passed"
    except AgentError as exc:
        gone = faults.engine_gone(box)  # a CLI "gone" with the engine is not the agent's fault
        status_flags["infra_error" if gone else "agent_error"] = True
        reason = f"{gone} ({exc.one_line()})" if gone else exc.one_line()
        extra["screen"] = exc.screen[-4000:]
        if exc.screen:
            _write(tp.pane, exc.screen)
    except HarnessError as exc:
        reason = _blame(exc, reason, status_flags, extra, box, warm.workdir, t_agent is not None)
    except Exception as exc:
        log.exception("trial %s crashed", plan.label)
        status_flags["infra_error"], reason = True, f"harness error: {type(exc).__name__}: {exc}"
    finally:
        if ctl is not None:
            try:
                ctl.stop_recording()
            except Exception:  # noqa: BLE001
                pass
            if status_flags["agent_error"] and extra.get("sandbox_wrecked"):
                _salvage(ctl, box, env.profile, tp, warm, post)
            ctl.close(kill_server=False)  # the warm reset or the container's removal ends it
    status = outcome_status(checks, **status_flags)
    record = TrialRecord(
        run_id=env.run_id, task_id=task.id, variant=plan.variant.name, attempt=plan.attempt,
        split=task.split, status=status, reason=reason, check_results=checks,
        tokens={"input": tokens[0], "output": tokens[1]},
        duration_sec=round(time.monotonic() - t0, 3),
        tool_turns=len(ep.tool_calls), steps_to_green=_steps_to_green(ep),
        error_signatures=_error_signatures(ep),
        artifacts=faults.existing_artifacts(tp, str(tp.dir.relative_to(env.paths.run_dir))),
    )
    lap("teardown")
    extra.update(started_at=started, finished_at=time.time(), agent_sec=round(agent_sec, 3), timing=timing)
    outcome = TrialOutcome(record, extra)
    write_result(tp, outcome)
    return outcome


def write_result(tp: TrialPaths, outcome: TrialOutcome) -> None:
    """``result.json``: the record and everything measured (the complete marker). The runner
    writes it again once it has timed the whole trial; the rename keeps it whole meanwhile."""
    tmp = tp.result.with_name(tp.result.name + ".tmp")
    data = {"record": outcome.record.model_dump(mode="json"), "extra": outcome.extra}
    _write(tmp, json.dumps(data, indent=2, default=str))
    tmp.replace(tp.result)


def _blame(exc: HarnessError, reason: str, flags: dict[str, bool], extra: dict[str, Any], box: Any,
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


def _salvage(ctl: Any, box: Any, profile: AgentProfile, tp: TrialPaths, warm: WarmSandbox,
             post: Any) -> None:
    """Keep what can still be read of a wrecked sandbox: the pane, the transcript, the diff.
    Each piece on its own: one that cannot be read does not stop the others."""
    steps: list[tuple[Path, Any]] = [
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


def _shell_turn(ctl: Any, cmd: str, timeout_sec: float) -> TurnOutcome:
    """A shell agent's turn: the command's own end marker is the exact completion signal."""
    t = time.monotonic()
    try:
        r = ctl.run_shell(cmd, timeout_sec=timeout_sec)
    except WaitTimeout:
        return TurnOutcome("timeout", time.monotonic() - t, time.time(), ctl.capture_pane())
    return TurnOutcome("signal", time.monotonic() - t, time.time(), "", f"exit {r.exit_code}")


def _turns(env: TrialEnv, task: Any, box: Any) -> list[str]:
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

