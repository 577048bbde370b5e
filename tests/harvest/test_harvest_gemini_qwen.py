"""``harness harvest`` on session files the real Gemini CLI and Qwen Code wrote (the same
two sessions as claude's and codex's, see realcli.py): prompts and answers, the red then
green test runs, the cwd recovered (gemini keys its store by a project name or hash, qwen by
a lossy slug), the start commit, and the planted secrets never kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.harvest import HarvestOptions, HarvestStore, harvest
from tests.harvest.conftest import harvest_cli
from tests.harvest.realcli import (
    ANSWER_FIX,
    ANSWER_LATER,
    FIX_CMD,
    PROMPT_FIX,
    PROMPT_LATER,
    PROMPT_SHOW,
    SECRETS,
    SKILL,
    TEST_CMD,
    Generated,
    generate,
)

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]
AGENTS = ("gemini", "qwen")


@pytest.fixture(scope="module")
def sessions(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    from harness import images

    imgs = {a: images.ensure_image(docker_client, a, say=lambda _m: None) for a in AGENTS}
    gen = generate(tmp_path_factory.mktemp("cli-sessions-gq"), docker_client, imgs, AGENTS)
    bad = {k: v for k, v in gen.statuses.items() if not v.startswith("passed")}
    assert not bad, f"the real CLIs did not finish their fixture sessions: {bad}"
    yield gen


@pytest.mark.parametrize("agent", AGENTS)
def test_digest_of_a_real_session(sessions: Generated, tmp_path: Path, agent: str) -> None:
    lay = sessions.install(tmp_path)
    home = getattr(lay, f"{agent}_home")
    opts = HarvestOptions(source=agent, project=lay.repo, environ={}, **{f"{agent}_home": home})
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(opts, store)
    assert (rep.found, rep.read, rep.kept, rep.skipped) == (2, 2, 2, 0), rep.skipped_sessions
    assert rep.problems == []
    fix = next(d for d in rep.digests if d.turns[0].prompt.startswith(PROMPT_FIX[:30]))
    later = next(d for d in rep.digests if d.turns[0].prompt.startswith(PROMPT_LATER[:30]))
    # the cwd is the project's path, though the store's directory names only a slug or name
    assert fix.cwd == str(lay.repo) and later.cwd == str(lay.repo)
    assert [t.prompt[:40] for t in fix.turns] == [PROMPT_FIX[:40], PROMPT_SHOW[:40]]
    assert fix.turns[0].final_answer == ANSWER_FIX
    assert "[REDACTED]" in fix.turns[1].final_answer
    assert [(r.cmd.endswith(TEST_CMD), r.outcome, r.exit_code) for r in fix.test_runs] == [
        (True, "failed", 1), (True, "passed", 0)]
    assert fix.tools == {"run_shell_command": 3} and "calc.py" in fix.files_touched
    assert [e.cmd for e in fix.edits if e.op == "shell"] == [FIX_CMD]
    assert fix.tokens.input > 0 and fix.tokens.output > 0
    assert fix.model == ("gemini-2.5-pro" if agent == "gemini" else "qwen3-coder-plus")
    assert fix.start.commit == sessions.commits[-1], fix.start
    assert later.final_answer == ANSWER_LATER and later.skills == [SKILL]
    dump = json.dumps([d.model_dump(mode="json") for d in rep.digests])
    leaked = [k for k, v in SECRETS.items() if v in dump]
    assert not leaked, f"secrets kept in the digests: {leaked}"


def test_auto_finds_both_stores_by_cli(sessions: Generated, tmp_path: Path) -> None:
    lay = sessions.install(tmp_path, sessions={"gemini": ["later"], "qwen": ["later"]})
    out = harvest_cli("--gemini-home", str(lay.gemini_home), "--qwen-home", str(lay.qwen_home),
                      "--claude-home", str(tmp_path / "none"), "--codex-home", str(tmp_path / "none"),
                      "--runs-dir", str(tmp_path / "runs"), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert sorted(d["agent"] for d in rep["digests"]) == ["gemini", "qwen"], rep["skipped_sessions"]
    # the gemini "later" session alone has no .project_root: its cwd comes from the session
    assert {d["cwd"] for d in rep["digests"]} == {str(lay.repo)}
