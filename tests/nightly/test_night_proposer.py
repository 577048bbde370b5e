"""The proposer inside a night (issue 13 item 2, built on another branch): its candidate is
replayed and gated like any other, and a reply that is no edit set is recorded while the
night goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harvest.realcli import Generated
from tests.nightly.helpers import SKILL_OLD, nightly_cli
from tests.nightly.test_night_real import SKILL_REL, _project

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]

EDITS = {"edits": [{
    "file": "SKILL.md", "op": "replace", "section": "front matter",
    "content": "name: calc-fixer\ndescription: Fixes add() in calc.py and runs the tests.",
    "rationale": "The failed trials never fixed add(); the skill's name and description are "
                 "what the agent sees first."}]}


def _proposer(tmp_path: Path, reply: str) -> Path:
    from harness.propose.prompt import MARKER

    f = tmp_path / "proposer.yaml"
    f.write_text(yaml.safe_dump({"version": 1, "rules": [
        {"name": "proposer", "match": {"user": "^" + MARKER}, "reply": {"text": reply}}]}))
    return f


def _night(gen: Generated, tmp_path: Path, reply: str) -> tuple[Path, dict[str, Any]]:
    script = _proposer(tmp_path, reply)
    proj, f = _project(gen, tmp_path, SKILL_OLD,
                       candidates={"proposer": {"model": "m", "script": str(script)}})
    r = nightly_cli("--config", str(f), "--json", timeout=1800)
    assert r.returncode == 0, r.stderr
    return proj, json.loads(r.stdout)


def test_the_proposers_candidate_is_replayed_gated_and_staged(cli_sessions: Generated,
                                                               tmp_path: Path) -> None:
    proj, rec = _night(cli_sessions, tmp_path, "```json\n" + json.dumps(EDITS) + "\n```\n")
    [c] = rec["candidates"]
    assert (c["source"], c["verdict"]) == ("proposer", "accept"), c
    assert [e["op"] for e in c["edits"]] == ["replace"] and c["edits"][0]["rationale"]
    assert rec["verdict"] == "accept" and rec["staged"] and rec["adopted"] is None
    assert (proj / SKILL_REL).read_text() == SKILL_OLD  # adopt: stage leaves the live skill


def test_a_proposer_reply_that_is_no_edit_set_is_recorded_and_the_night_goes_on(
        cli_sessions: Generated, tmp_path: Path) -> None:
    proj, rec = _night(cli_sessions, tmp_path, "You should tell the agent to run the tests.")
    [c] = rec["candidates"]
    assert (c["source"], c["verdict"]) == ("proposer", "invalid")
    assert c["reason"].startswith("proposer reply rejected:")
    assert rec["status"] == "done" and rec["replayed"] == 0
    assert rec["decision"] == "no candidate was replayed tonight"
    assert (proj / SKILL_REL).read_text() == SKILL_OLD
