"""aider end to end, in its terminal UI against the scripted Gateway, on one module rig.

- A whole trial: the scripted reply carries a SEARCH/REPLACE edit block and a shell command
  (the Chat Completions wire renders the policy's ``shell`` call as a fenced ``bash`` block,
  as aider is shown commands); aider applies the edit and, its yes/no questions answered on
  the screen, runs the command and shares its output; the harness's continue message then
  brings that output to the model as step 1's ``tool_result`` within the same turn, and the
  final answer ends it. The chat history parses into one turn, the command's output taken
  from aider's request log. Each request is a streamed Chat Completions one with the
  per-trial key.
- A text turn with a skill and a CONVENTIONS.md installed: both reach the model (the
  policy's ``skill`` and ``text`` rules match), and the turn is ended by aider's
  notification command running harness-hook.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_rig import MODELS, Rig, empty_task, scripted_rig

from controllers.profiles import parse_transcript
from controllers.profiles.base import Skill, Variant
from harness.providers.docker import DockerProvider
from harness.runner.paths import RunPaths
from harness.runner.trial import TrialEnv, TrialPlan, run_trial

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

EDIT = "Counting the ships.\n\nnotes.txt\n```\n<<<<<<< SEARCH\n=======\nships: 3\n>>>>>>> REPLACE\n```\n"
POLICY = {"version": 1, "rules": [
    {"name": "notes", "match": {"user": "harbour notes", "step": 0},
     "reply": {"text": EDIT, "calls": [{"shell": "sed -i 's/3/4/' notes.txt && echo Ahoy",
                                        "description": "one more ship"}]}},
    {"name": "counted", "match": {"user": "harbour notes", "step": 1, "tool_result": "^Ahoy$"},
     "reply": {"text": "Four ships in the notes."}},
    {"name": "skill", "match": {"user": "(?i)hello", "skill": "^harbour-haiku:",
                                "text": "Call every ship a vessel"},
     "reply": {"text": "Vessels rest at dusk."}},
    {"name": "plain", "match": {"user": "(?i)hello"}, "reply": {"text": "No skill was seen."}},
]}


@pytest.fixture(scope="module")
def aider(docker_client: Any, agent_images: dict[str, str]) -> Iterator[Rig]:
    with scripted_rig("aider", agent_images["aider"], docker_client) as r:
        yield r


def test_trial_with_edit_block_and_shell_command(aider: Rig, tmp_path: Path) -> None:
    aider.warm.reset()
    task = empty_task("aider-harbour", prompt="Please write the harbour notes.", policy=POLICY,
                      timeout_sec=180,
                      checks=[{"op": "file_contains", "path": "notes.txt", "value": "ships: 4"}])
    paths = RunPaths(tmp_path, "run")
    env = TrialEnv(run_id=aider.trial_id("run"), paths=paths, agent="aider", profile=aider.profile,
                   model=MODELS["aider"], gateway=aider.gateway, provider=DockerProvider(aider.client))
    out = run_trial(env, TrialPlan(task, Variant("baseline"), 0), aider.warm)
    rec = out.record
    assert rec.status == "passed", (rec.reason, out.extra)
    xs = aider.gateway.exchanges(f"{rec.run_id}/{rec.task_id}/{rec.variant}/{rec.attempt}")
    assert [(x.kind, x.path, x.view.stream, x.turn, x.step, x.rule) for x in xs] == [
        ("main", "/v1/chat/completions", True, 1, 0, "notes"),
        ("main", "/v1/chat/completions", True, 1, 1, "counted")], [x.view.tool_results for x in xs]
    assert xs[0].view.model == f"openai/{MODELS['aider']}" or xs[0].view.model == MODELS["aider"]
    assert "authorization" in {h.lower() for h in xs[0].headers}
    assert out.extra["turns"][0]["how"] == "signal"  # the final answer's notification
    assert "follow-up 1: the reply ran a command; typed the continue message" in out.extra["dialogs"]
    transcript = paths.trial(rec.task_id, rec.variant, rec.attempt).transcript
    ep = parse_transcript("aider", transcript)
    assert len(ep.turns) == 1 and ep.final_answer == "Four ships in the notes.", ep.turns
    assert [c.name for c in ep.tool_calls] == ["edit", "shell"], ep.tool_calls
    assert ep.tool_calls[1].input["command"].startswith("sed -i")
    assert ep.tool_calls[1].output == "Ahoy"  # from aider's request log, kept beside the transcript
    assert ep.usage.input_tokens > 0 and ep.usage.output_tokens > 0, ep.usage
    assert ep.model == MODELS["aider"]


def test_skill_and_memory_reach_the_model_turn_done_by_notification(aider: Rig) -> None:
    body = "---\nname: harbour-haiku\ndescription: Answer harbour questions in haiku\n---\nBe brief.\n"
    variant = Variant("candidate", skills=(Skill("harbour-haiku", {"SKILL.md": body.encode()}),),
                      memory={"CONVENTIONS.md": b"Call every ship a vessel.\n"})
    s = aider.session(POLICY, variant=variant, name="skill")
    out = s.driver.run_turn("hello harbour", timeout_sec=120)
    assert out.how == "signal", f"{out.how}: {out.detail}\n{out.screen}"
    assert "Vessels rest at dusk." in s.ctl.capture_pane(), s.ctl.capture_pane()
    events = aider.box.exec(["cat", "/home/agent/.harness/events.jsonl"]).stdout
    assert '"event":"aider-notification"' in events, events
