"""Qwen Code end to end, in its terminal UI against the scripted Gateway: a whole trial with a
shell call and a file edit passes, its turns are ended by the ``Stop`` hook, and the CLI's own
session file parses into the Episode (tool calls with their outputs, tokens). Also what the
CLI asks the Gateway at start-up, per turn and after it: only the agent's own turns (one
streamed ``POST /v1/chat/completions`` per step, the key as a Bearer token), no side request
(recap, suggestions, speculation, memory, loop checks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_rig import MODELS, Rig, empty_task, scripted_rig

from controllers.profiles import parse_transcript
from controllers.profiles.base import Variant
from harness.providers.docker import DockerProvider
from harness.runner.paths import RunPaths
from harness.runner.trial import TrialEnv, TrialPlan, run_trial

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

POLICY = {
    "version": 1,
    "rules": [
        {"name": "count", "match": {"user": "harbour notes", "step": 0},
         "reply": {"text": "Counting the ships first.",
                   "calls": [{"shell": "ls /etc | head -n 3 | wc -l | sed 's/^/ships: /' > notes.txt; cat notes.txt",
                              "description": "write the notes"}]}},
        # its edit tool refuses a file this session has not read
        {"name": "read", "match": {"user": "harbour notes", "step": 1},
         "reply": {"text": "Reading the notes.",
                   "calls": [{"tool": "read_file", "input": {"file_path": "/workspace/notes.txt"}}]}},
        {"name": "edit", "match": {"user": "harbour notes", "step": 2},
         "reply": {"text": "Now the notes file.",
                   "calls": [{"tool": "edit",
                              "input": {"file_path": "/workspace/notes.txt",
                                        "old_string": "ships: 3", "new_string": "ships: 4"}}]}},
        {"name": "done", "match": {"user": "harbour notes", "step": 3},
         "reply": {"text": "Ahoy: the notes now say four ships."}},
        {"name": "again", "match": {"user": "once more"}, "reply": {"text": "Still four ships."}},
    ],
}


@pytest.fixture(scope="module")
def qwen(docker_client: Any, agent_images: dict[str, str]) -> Iterator[Rig]:
    with scripted_rig("qwen", agent_images["qwen"], docker_client) as r:
        yield r


def test_trial_with_shell_call_and_edit(qwen: Rig, tmp_path: Path) -> None:
    qwen.warm.reset()
    task = empty_task("qwen-harbour", prompt=None, turns=["Please update the harbour notes.", "And once more?"],
                      policy=POLICY, timeout_sec=240,
                      checks=[{"op": "file_contains", "path": "notes.txt", "value": "ships: 4"},
                              {"op": "contains", "value": "Still four"}])
    paths = RunPaths(tmp_path, "run")
    env = TrialEnv(run_id=qwen.trial_id("run"), paths=paths, agent="qwen",
                   profile=qwen.profile, model=MODELS["qwen"], gateway=qwen.gateway,
                   provider=DockerProvider(qwen.client))
    out = run_trial(env, TrialPlan(task, Variant("baseline"), 0), qwen.warm)
    rec = out.record
    assert rec.status == "passed", (rec.reason, out.extra)
    assert [t["how"] for t in out.extra["turns"]] == ["signal", "signal"], out.extra["turns"]
    tid = f"{rec.run_id}/{rec.task_id}/{rec.variant}/{rec.attempt}"
    xs = qwen.gateway.exchanges(tid)
    # every request is a step of the agent's own turns, streamed, with the trial's key: none
    # at start-up, none between or after the turns
    assert [x.kind for x in xs] == ["main"] * 5, [(x.kind, x.path) for x in xs]
    assert all(x.path == "/v1/chat/completions" for x in xs), [x.path for x in xs]
    assert all(x.request.get("stream") is True for x in xs)
    assert all(any(k.lower() == "authorization" for k in x.headers) for x in xs)
    assert [x.view.step for x in xs] == [0, 1, 2, 3, 0]
    assert "ships: 3" in xs[1].view.tool_results[0], xs[1].view.tool_results
    transcript = paths.trial(rec.task_id, rec.variant, rec.attempt).transcript
    assert transcript.is_file(), f"no transcript was collected at {transcript}"
    ep = parse_transcript("qwen", transcript)
    assert [c.name for c in ep.tool_calls] == ["run_shell_command", "read_file", "edit"]
    assert ep.tool_calls[0].input["command"].startswith("ls /etc | head -n 3")
    assert "ships: 3" in ep.tool_calls[0].output and not ep.tool_calls[2].is_error
    assert [t.user_text for t in ep.turns] == ["Please update the harbour notes.", "And once more?"]
    assert ep.final_answer == "Still four ships."
    assert ep.usage.input_tokens > 0 and ep.usage.output_tokens > 0, ep.usage
    assert ep.model == MODELS["qwen"]


def test_nothing_asked_after_the_turn(qwen: Rig) -> None:
    """Idle after a turn (where recap, follow-up suggestions and memory extraction would run):
    the Gateway hears nothing more, and the turn was ended by the Stop hook."""
    s = qwen.session(POLICY, name="idle")
    out = s.driver.run_turn("Please update the harbour notes.", timeout_sec=150)
    assert out.how == "signal", f"{out.how}: {out.detail}\n{out.screen}"
    events = qwen.box.exec(["cat", "/home/agent/.harness/events.jsonl"]).stdout
    assert '"event":"qwen-stop"' in events, events
    n = len(s.exchanges())
    assert n == 4, [(x.kind, x.path) for x in s.exchanges()]
    time.sleep(10)  # what the CLI would send on its own now, it sends within this
    assert len(s.exchanges()) == n, [(x.kind, x.path, x.request.get("messages", [{}])[-1])
                                     for x in s.exchanges()[n:]]
