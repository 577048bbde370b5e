"""Gemini CLI end to end, in its terminal UI against the scripted Gateway: a whole trial with
a shell call and a file edit passes, its turn is ended by the ``AfterAgent`` hook, and the
CLI's own session file parses into the Episode (tool calls with their outputs, tokens).
Also what the CLI asks the Gateway at start-up and per turn: only the agent's own turns
(``streamGenerateContent?alt=sse`` with the key in ``x-goog-api-key``), no side requests."""

from __future__ import annotations

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
        {"name": "edit", "match": {"user": "harbour notes", "step": 1},
         "reply": {"text": "Now the notes file.",
                   "calls": [{"tool": "replace",
                              "input": {"file_path": "/workspace/notes.txt",
                                        "old_string": "ships: 3", "new_string": "ships: 4",
                                        "instruction": "one more ship arrived"}}]}},
        {"name": "done", "match": {"user": "harbour notes", "step": 2},
         "reply": {"text": "Ahoy: the notes now say four ships."}},
    ],
}


@pytest.fixture(scope="module")
def gemini(docker_client: Any, agent_images: dict[str, str]) -> Iterator[Rig]:
    with scripted_rig("gemini", agent_images["gemini"], docker_client) as r:
        yield r


def test_trial_with_shell_call_and_edit(gemini: Rig, tmp_path: Path) -> None:
    gemini.warm.reset()
    task = empty_task("gemini-harbour", prompt="Please update the harbour notes.", policy=POLICY,
                      timeout_sec=180,
                      checks=[{"op": "file_contains", "path": "notes.txt", "value": "ships: 4"},
                              {"op": "contains", "value": "Ahoy"}])
    paths = RunPaths(tmp_path, "run")
    env = TrialEnv(run_id=gemini.trial_id("run"), paths=paths, agent="gemini",
                   profile=gemini.profile, model=MODELS["gemini"], gateway=gemini.gateway,
                   provider=DockerProvider(gemini.client))
    out = run_trial(env, TrialPlan(task, Variant("baseline"), 0), gemini.warm)
    rec = out.record
    assert rec.status == "passed", (rec.reason, out.extra)
    tid = f"{rec.run_id}/{rec.task_id}/{rec.variant}/{rec.attempt}"
    xs = gemini.gateway.exchanges(tid)
    # every request is the agent's own turn, streamed: no model list, countTokens, router,
    # next-speaker or loop check before or between them
    assert [x.kind for x in xs] == ["main"] * 3, [(x.kind, x.path) for x in xs]
    stream = f"/v1beta/models/{MODELS['gemini']}:streamGenerateContent?alt=sse"
    assert all(x.path == stream for x in xs), [x.path for x in xs]
    assert all("x-goog-api-key" in {h.lower() for h in x.headers} for x in xs)
    assert [x.view.step for x in xs] == [0, 1, 2]
    assert "ships: 3" in xs[1].view.tool_results[0], xs[1].view.tool_results
    transcript = paths.trial(rec.task_id, rec.variant, rec.attempt).transcript
    assert transcript.is_file(), f"no transcript was collected at {transcript}"
    ep = parse_transcript("gemini", transcript)
    names = [c.name for c in ep.tool_calls]
    assert names == ["run_shell_command", "replace"], names
    assert ep.tool_calls[0].input["command"].startswith("ls /etc | head -n 3")
    assert "ships: 3" in ep.tool_calls[0].output
    assert ep.final_answer == "Ahoy: the notes now say four ships."
    assert ep.usage.input_tokens > 0 and ep.usage.output_tokens > 0, ep.usage
    assert ep.model == MODELS["gemini"]


def test_turn_done_by_after_agent_hook(gemini: Rig) -> None:
    s = gemini.session(POLICY, name="hook")
    out = s.driver.run_turn("Please update the harbour notes.", timeout_sec=150)
    assert out.how == "signal", f"{out.how}: {out.detail}\n{out.screen}"
    assert s.file_text("notes.txt") == "ships: 4\n", out.screen
    events = gemini.box.exec(["cat", "/home/agent/.harness/events.jsonl"]).stdout
    assert '"event":"gemini-after-agent"' in events, events
    assert "Ahoy: the notes now say four ships." in s.ctl.capture_pane()
