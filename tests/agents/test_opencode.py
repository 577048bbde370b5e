"""opencode end to end, in its terminal UI against the scripted Gateway: a whole trial with
a shell call and a file edit passes, its turn is ended by the plugin's ``session.idle``
handler, and the session file the plugin writes parses into the Episode (tool calls with
their outputs, tokens). Also what the CLI asks the Gateway (only ``/v1/chat/completions``:
the agent's turns and one title request, answered with the policy's title; no model list),
that it tried no download (its log has no dependency install or fetch), and harvest of the
sqlite store the real CLI wrote in that same trial (no extra CLI run)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_rig import MODELS, Rig, empty_task, scripted_rig

from controllers.profiles import parse_transcript
from controllers.profiles.base import Variant
from harness.harvest import opencode as harvest_oc
from harness.harvest.digest import Problem, StartState
from harness.providers.docker import DockerProvider
from harness.runner.paths import RunPaths
from harness.runner.trial import TrialEnv, TrialPlan, run_trial

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

POLICY = {
    "version": 1,
    "title": "Harbour notes update",
    "rules": [
        {"name": "count", "match": {"user": "harbour notes", "step": 0},
         "reply": {"text": "Counting the ships first.",
                   "calls": [{"shell": "ls /etc | head -n 3 | wc -l | sed 's/^/ships: /' > notes.txt; cat notes.txt",
                              "description": "write the notes"}]}},
        {"name": "edit", "match": {"user": "harbour notes", "step": 1},
         "reply": {"text": "Now the notes file.",
                   "calls": [{"tool": "edit",
                              "input": {"filePath": "/workspace/notes.txt",
                                        "oldString": "ships: 3", "newString": "ships: 4"}}]}},
        {"name": "done", "match": {"user": "harbour notes", "step": 2},
         "reply": {"text": "Ahoy: the notes now say four ships."}},
    ],
}


@pytest.fixture(scope="module")
def opencode(docker_client: Any, agent_images: dict[str, str]) -> Iterator[Rig]:
    with scripted_rig("opencode", agent_images["opencode"], docker_client) as r:
        yield r


def _store(rig: Rig, dest: Path) -> Path:
    """opencode's data dir copied out of the container, its WAL folded into the db."""
    rig.box.copy_out("/home/agent/.local/share/opencode", dest)
    home = next(p.parent for p in dest.rglob("opencode.db"))
    with contextlib.closing(sqlite3.connect(home / "opencode.db")) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return home


def test_trial_with_shell_call_and_edit_then_harvest(opencode: Rig, tmp_path: Path) -> None:
    opencode.warm.reset()
    task = empty_task("opencode-harbour", prompt="Please update the harbour notes.", policy=POLICY,
                      timeout_sec=240,
                      checks=[{"op": "file_contains", "path": "notes.txt", "value": "ships: 4"},
                              {"op": "contains", "value": "Ahoy"}])
    paths = RunPaths(tmp_path, "run")
    env = TrialEnv(run_id=opencode.trial_id("run"), paths=paths, agent="opencode",
                   profile=opencode.profile, model=MODELS["opencode"], gateway=opencode.gateway,
                   provider=DockerProvider(opencode.client))
    out = run_trial(env, TrialPlan(task, Variant("baseline"), 0), opencode.warm)
    rec = out.record
    assert rec.status == "passed", (rec.reason, out.extra)
    assert out.extra["turns"][-1]["how"] == "signal", out.extra["turns"]
    tid = f"{rec.run_id}/{rec.task_id}/{rec.variant}/{rec.attempt}"
    xs = opencode.gateway.exchanges(tid)
    # the agent's three steps and opencode's one title request; nothing else (no model list)
    assert sorted(x.kind for x in xs) == ["main"] * 3 + ["title"], [(x.kind, x.path) for x in xs]
    assert all(x.path == "/v1/chat/completions" for x in xs), [x.path for x in xs]
    main = [x for x in xs if x.kind == "main"]
    assert [x.view.step for x in main] == [0, 1, 2]
    assert "ships: 3" in main[1].view.tool_results[0], main[1].view.tool_results
    events = opencode.box.exec(["cat", "/home/agent/.harness/events.jsonl"]).stdout
    assert '"event":"opencode-session-idle"' in events, events
    # no dependency install, download or fetch was tried (offline it would hang or fail)
    log = opencode.box.exec(["sh", "-c", "cat /home/agent/.local/share/opencode/log/*.log"]).stdout
    assert log and "level=ERROR" not in log and "install" not in log.lower(), log[-3000:]
    transcript = paths.trial(rec.task_id, rec.variant, rec.attempt).transcript
    assert transcript.is_file(), f"no transcript was collected at {transcript}"
    ep = parse_transcript("opencode", transcript)
    assert [c.name for c in ep.tool_calls] == ["bash", "edit"], ep.tool_calls
    assert ep.tool_calls[0].input["command"].startswith("ls /etc | head -n 3")
    assert "ships: 3" in ep.tool_calls[0].output
    assert ep.final_answer == "Ahoy: the notes now say four ships."
    assert ep.usage.input_tokens > 0 and ep.usage.output_tokens > 0, ep.usage
    assert ep.model == MODELS["opencode"]

    # harvest: the sqlite store this trial's CLI wrote, read as a user's would be
    home = _store(opencode, tmp_path / "store")
    problems: list[Problem] = []
    rows = [r for r in harvest_oc.discover(home, problems) if r.session_id == ep.session_id]
    assert len(rows) == 1 and rows[0].skip is None and rows[0].parts > 0, (rows, problems)
    b, skip = harvest_oc.read(rows[0], problems)
    assert skip is None and not problems, problems
    # its title request got the policy's title as the one plain line it asks for (a JSON
    # object or the script's text became the session's title before)
    title = harvest_oc.load(rows[0].db, ep.session_id, problems)["info"]["title"]
    assert title == "Harbour notes update", title
    d = b.build(StartState(), project="")
    assert d.agent == "opencode" and d.session_id == ep.session_id and d.cwd == "/workspace"
    assert d.cli_version == "1.18.33" and d.model == MODELS["opencode"]
    assert [t.prompt for t in d.turns] == ["Please update the harbour notes."]
    assert d.turns[0].final_answer == "Ahoy: the notes now say four ships."
    assert [c.name for c in d.tool_calls] == ["bash", "edit"]
    assert d.tool_calls[0].summary.startswith("ls /etc") and d.tool_calls[0].exit_code == 0
    assert "notes.txt" in d.files_touched, d.files_touched
    assert d.tokens.input == ep.usage.input_tokens and d.tokens.output == ep.usage.output_tokens
