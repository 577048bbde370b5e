"""Done means, end to end, as a user runs it: `harness harvest --source auto --project P`
on sessions the real claude and codex CLIs wrote, `harness mine`, then `harness run` at
each session's start commit, offline: the mined checks fail with the no-op agent, pass
with the oracle (the session's own edits redone), and pass when the real CLI, on the
scripted Gateway, repeats what the session did."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harvest.realcli import (
    ANSWER_FIX,
    FIX_CMD,
    PROMPT_FIX,
    SECRETS,
    TEST_CMD,
    Generated,
    Layout,
)

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, check=False)


def _run(suite: Path, runs: Path, agent: str, *extra: str) -> dict[str, Any]:
    """`harness run` one agent; the trial record (with its check results)."""
    r = _cli("run", str(suite), "--agent", agent, "--variant", "baseline=none",
             "--runs-dir", str(runs), "--json", *extra)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    recs = [json.loads(ln) for ln in (Path(out["run_dir"]) / "trials.jsonl").read_text().splitlines()]
    assert len(recs) == 1, recs
    return recs[0]


@pytest.fixture(scope="module")
def mined(cli_sessions: Generated, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Layout, Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("mined")
    lay = cli_sessions.install(root)
    runs = root / "runs"
    r = _cli("harvest", "--source", "auto", "--project", str(lay.repo), "--claude-home",
             str(lay.claude_home), "--codex-home", str(lay.codex_home), "--runs-dir", str(runs), "-q")
    assert r.returncode == 0, r.stderr
    r = _cli("mine", "--out", str(root / "suite"), "--project", str(lay.repo),
             "--runs-dir", str(runs), "--json")
    assert r.returncode == 0, r.stderr
    return lay, root / "suite", runs, json.loads(r.stdout)


def test_mined_suite_from_real_sessions(cli_sessions: Generated, mined: Any) -> None:
    lay, suite, _runs, rep = mined
    # the fix was asked of both CLIs: one recurring intent, one task, both sessions named
    assert (rep["digests"], rep["groups"], rep["recurring_groups"]) == (4, 2, 2)
    [task] = rep["tasks"]
    assert task["recurring"] and sorted(s.split(":")[0] for s in task["sessions"]) == [
        "claude", "codex"]
    assert task["checks"] == ["command", "diff_touches", "diff_not_touches"] and task["oracle"]
    # the later sessions only talked: nothing to check that a no-op would fail, so dropped
    [dropped] = rep["dropped"]
    assert len(dropped["sessions"]) == 2 and "would pass with no work" in dropped["reason"]
    cfg = yaml.safe_load((suite / "suite.yaml").read_text())
    assert cfg["reviewed"] is False
    data = yaml.safe_load((suite / "tasks" / task["id"] / "task.yaml").read_text())
    assert data["workspace"] == {"git": str(lay.repo), "ref": cli_sessions.commits[-1]}
    assert data["turns"][0].startswith(PROMPT_FIX[:40])
    checks = {c["op"]: c for c in data["checks"]}
    assert checks["command"]["cmd"] == TEST_CMD
    assert checks["diff_touches"]["paths"] == ["calc.py"]  # NOTES.md: claude's only
    assert checks["diff_not_touches"]["paths"] == ["test_calc.py"]
    assert [s["commit_found_by"] for s in data["meta"]["mined"]["sessions"]] == [
        "rev-list", "session"]
    written = "".join(p.read_text() for p in suite.rglob("*") if p.is_file())
    assert not [k for k, v in SECRETS.items() if v in written]


def test_noop_fails_and_oracle_passes_at_the_start_commit(cli_sessions: Generated, mined: Any,
                                                         tmp_path: Path) -> None:
    _lay, suite, runs, _rep = mined
    noop = _run(suite, runs, "noop")
    assert noop["status"] == "failed"
    assert {c["name"]: c["passed"] for c in noop["check_results"]} == {
        "mined tests": False, "mined files changed": False, "mined tests left alone": True}
    oracle = _run(suite, runs, "oracle")
    assert oracle["status"] == "passed", oracle["reason"]
    assert all(c["passed"] for c in oracle["check_results"]) and len(oracle["check_results"]) == 3
    # the sandbox holds the start commit with its history, and nothing after it
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    [tf] = copy.glob("tasks/*/task.yaml")
    data = yaml.safe_load(tf.read_text())
    head = cli_sessions.commits[-1]
    data["checks"].append({"op": "command", "name": "at start commit", "cmd": (
        f'test "$(git rev-parse HEAD)" = {head} && test "$(git rev-list --count HEAD)" = 3 && '
        # the user's later commit is not there to read the answer from
        '! git log --all --oneline | grep -q "later work"')})
    tf.write_text(yaml.safe_dump(data, sort_keys=False))
    at = _run(copy, runs, "oracle")
    assert {c["name"]: c["passed"] for c in at["check_results"]}["at start commit"], at["reason"]


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_real_cli_repeats_the_session_at_its_start_commit(mined: Any, tmp_path: Path,
                                                          agent: str) -> None:
    """A scripted policy that does what the session did (run the fix, answer): the real CLI
    works in the restored repo and the mined checks pass."""
    _lay, suite, runs, _rep = mined
    copy = tmp_path / "suite"
    shutil.copytree(suite, copy)
    [tf] = copy.glob("tasks/*/task.yaml")
    data = yaml.safe_load(tf.read_text())
    data["policy"] = {"version": 1, "title": "repeat the session", "rules": [
        {"name": "fix", "match": {"user": "returns the wrong result", "step": 0},
         "reply": {"calls": [{"shell": FIX_CMD, "description": "fix add and run the tests"}]}},
        {"name": "done", "match": {"user": "returns the wrong result", "step": 1},
         "reply": {"text": ANSWER_FIX}},
        {"name": "show", "match": {"user": "deploy.env holds"}, "reply": {"text": "Keys."}},
    ], "default": {"text": "Nothing scripted."}}
    tf.write_text(yaml.safe_dump(data, sort_keys=False))
    rec = _run(copy, runs, agent, "--model", "scripted")
    assert rec["status"] == "passed", rec["reason"]
    assert {c["name"] for c in rec["check_results"] if c["passed"]} == {
        "mined tests", "mined files changed", "mined tests left alone"}
