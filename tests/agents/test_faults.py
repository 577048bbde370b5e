"""Faults blamed on the right party, on the real CLIs through ``run_trial``.

- a model reply that never comes before the trial timeout, and a refused key (401), are
  ``infra_error`` (never ``timeout``, which is scored);
- an agent that wrecks its own sandbox (``kill -9 -1``, ``tmux kill-server``, deleting
  ``.git``, a fork bomb that outlives its tool call) is ``agent_error`` with what happened,
  its evidence kept and ``result.json`` naming only files that exist;
- claude's permission menu for a dangerous ``rm`` (a dialog the profile does not know) is
  ``agent_error`` with the screen, not a finished turn scored ``failed``.

The wreck cases get a fresh container each (a wrecked one cannot be reset); the others share
the module's rig.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_rig import MODELS, Rig, empty_task

from controllers.profiles.base import Variant
from controllers.sandbox import SandboxLimits
from harness.providers.docker import DockerProvider, prepare
from harness.providers.warm import WarmSandbox
from harness.runner.paths import RunPaths
from harness.runner.trial import TrialEnv, TrialOutcome, TrialPlan, run_trial

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]
PIDS = 256  # small, so a bounded fork bomb fills it quickly


def _trial(rig: Rig, warm: WarmSandbox, tmp: Path, policy: dict[str, Any], *,
           timeout_sec: int = 150) -> TrialOutcome:
    task = empty_task("agents-faults", prompt="Please tidy the workspace.", policy=policy,
                      timeout_sec=timeout_sec, checks=[{"op": "contains", "value": "tidy"}])
    env = TrialEnv(run_id=rig.trial_id("run"), paths=RunPaths(tmp, "run"), agent=rig.agent,
                   profile=rig.profile, model=MODELS[rig.agent], gateway=rig.gateway,
                   provider=DockerProvider(rig.client))
    return run_trial(env, TrialPlan(task, Variant("baseline"), 0), warm)


def _shell_then(cmd: str, after: str = "All tidy now.") -> dict[str, Any]:
    return {"version": 1, "rules": [
        {"name": "do", "match": {"user": "tidy", "step": 0},
         "reply": {"text": "Tidying.", "calls": [{"shell": cmd, "description": "tidy up"}]}},
        {"name": "after", "match": {"tool_result": ""}, "reply": {"text": after}},
    ]}


def _result(tmp: Path, out: TrialOutcome) -> dict[str, Any]:
    r = out.record
    data: dict[str, Any] = json.loads((tmp / "run" / r.artifacts.dir / "result.json").read_text())
    return data


def _listed_files_exist(tmp: Path, out: TrialOutcome) -> list[str]:
    """The artifact names result.json lists; each must exist."""
    art = _result(tmp, out)["record"]["artifacts"]
    base = tmp / "run" / art["dir"]
    names = [v for k, v in art.items() if k != "dir" and v]
    missing = [n for n in names if not (base / n).exists()]
    assert not missing, f"result.json lists files that do not exist: {missing}"
    return names


@pytest.fixture
def own_warm(rig: Rig) -> Iterator[WarmSandbox]:
    """A fresh container for one test that wrecks it."""
    warm = prepare(empty_task(), image=rig.image, client=rig.client, run_id=f"tests-faults-{rig.agent}",
                   limits=SandboxLimits(pids=PIDS), with_relay=True, gateway_url=rig.gateway.url)
    try:
        yield warm
    finally:
        with contextlib.suppress(Exception):
            warm.close()


# ---------------------------------------------------------------- the model side: infra


def test_a_reply_that_never_comes_is_infra_not_timeout(rig: Rig, tmp_path: Path) -> None:
    rig.warm.reset()
    policy = {"version": 1, "rules": [
        {"name": "hung", "match": {"user": "tidy"}, "fault": {"latency_sec": 600}, "reply": {"text": "tidy"}}]}
    out = _trial(rig, rig.warm, tmp_path, policy, timeout_sec=30)
    assert out.record.status == "infra_error", (out.record.status, out.record.reason)
    assert "never came" in out.record.reason and "pending" in out.record.reason, out.record.reason
    assert out.extra.get("model_fault") == "stalled"
    _listed_files_exist(tmp_path, out)


def test_a_refused_key_is_infra_and_marked_for_stopping_the_run(rig: Rig, tmp_path: Path) -> None:
    rig.warm.reset()
    policy = {"version": 1, "rules": [
        {"name": "bad-key", "match": {"user": "tidy"},
         "fault": {"status": 401, "message": "invalid x-api-key"}, "reply": {"text": "tidy"}}]}
    out = _trial(rig, rig.warm, tmp_path, policy, timeout_sec=300)
    assert out.record.status == "infra_error", (out.record.status, out.record.reason)
    assert "refused the key" in out.record.reason and "401" in out.record.reason, out.record.reason
    assert out.extra.get("model_fault") == "auth"
    # given up at once, not at the timeout: by the harness, or (gemini, opencode and aider,
    # which do not retry a 401) by the CLI ending its turn, its AfterAgent hook /
    # session.idle plugin / notification command signalling
    assert out.extra["turns"][-1]["how"] in (
        ("aborted", "signal") if rig.agent in ("gemini", "opencode", "aider") else ("aborted",))


# ---------------------------------------------------------------- the agent's own doing


def test_unknown_permission_menu_is_agent_error_with_the_screen(rig: Rig, tmp_path: Path) -> None:
    rig.warm.reset()
    out = _trial(rig, rig.warm, tmp_path, _shell_then("rm -rf /home/agent/.cache /tmp/*"))
    # codex (approval_policy=never), gemini and qwen (--approval-mode yolo) and opencode
    # (permission "*": allow) run it: no menu to block on; aider asks its own yes/no
    # question, a dialog its profile knows and answers
    if rig.agent in ("codex", "gemini", "qwen", "opencode", "aider"):
        assert out.record.status in ("passed", "failed"), (out.record.status, out.record.reason)
        assert "does not know" not in out.record.reason and "screen" not in out.extra
        return
    assert out.record.status == "agent_error", (out.record.status, out.record.reason)
    assert "does not know" in out.record.reason and "Dangerous rm" in out.record.reason, out.record.reason
    assert "Do you want to proceed?" in out.extra["screen"]
    assert "pane.txt" in _listed_files_exist(tmp_path, out)


WRECKS = {
    "kill-all": ("kill -9 -1", "every process of the agent user is gone"),
    "kill-tmux": ("tmux kill-server", "tmux server is gone"),
    # not `rm -rf`: codex refuses "rm -f style commands" before running them
    "delete-git": ("python3 -c 'import shutil; shutil.rmtree(\".git\")'", ".git is gone"),
    # its own session, so no tool runner can reap it with the tool's process group; dash
    # gives up when fork fails (bash would retry for minutes); the sleeps outlive the tool
    "fork-bomb": (("setsid sh -c 'i=0; while [ $i -lt 2000 ]; do sleep 900 & i=$((i+1)); done' "
                   "</dev/null >/dev/null 2>&1 & sleep 3; echo forked"), "pid limit is used up"),
}


#: Gemini CLI refuses a shell command holding command substitution ("$(", arithmetic too)
NO_SUBSTITUTION = {
    "fork-bomb": ("setsid sh -c 'seq 100000 | while read i; do sleep 900 & done' "
                  "</dev/null >/dev/null 2>&1 & sleep 3; echo forked"),
}


@pytest.mark.parametrize("case", list(WRECKS))
def test_a_sandbox_wrecked_from_inside_is_agent_error(case: str, rig: Rig, own_warm: WarmSandbox,
                                                      tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cmd, finding = WRECKS[case]
    if rig.agent == "gemini":
        cmd = NO_SUBSTITUTION.get(case, cmd)
    out = _trial(rig, own_warm, tmp_path, _shell_then(cmd), timeout_sec=120)
    r = out.record
    assert r.status == "agent_error", (r.status, r.reason, out.extra.get("turns"))
    assert finding in r.reason, r.reason
    assert out.extra.get("sandbox_wrecked"), "the runner must not reuse this sandbox"
    names = _listed_files_exist(tmp_path, out)
    assert "session.cast" in names  # the recording is the evidence that always survives
    if case in ("delete-git", "fork-bomb"):  # the agent lived on: its screen and session file
        assert "pane.txt" in names and "transcript.jsonl" in names, names
