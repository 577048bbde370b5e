"""The proposer end to end: a real scripted Gateway on loopback answers the proposer's one
Messages call, and `propose` turns the reply into a candidate folder (or a recorded failure).
The last test drives the CLIs as a user would: `harness run` (noop agent, local sandbox,
real tmux) writes a real run folder, `harness propose` reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.gateway.server import Gateway
from harness.propose.memory import remember_rejected
from harness.propose.prompt import MARKER
from harness.propose.run import ProposeOptions, propose

from .test_propose_checks import FAIL, write_run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tasks" / "examples"
SCRIPT = EXAMPLES / "nightly" / "proposer.yaml"
TARGET = ".claude/skills/fix-bugs"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "runs", [{"task_id": "fix-median", "variant": "baseline", **FAIL}])


def scripted(reply: str) -> dict[str, object]:
    return {"version": 1, "rules": [{"match": {"user": "^" + MARKER}, "reply": {"text": reply}}]}


@pytest.fixture
def gw_of() -> Iterator[object]:
    opened: list[Gateway] = []

    def start(policy: object) -> tuple[Gateway, ProposeOptions]:
        gw = Gateway("scripted", policy=policy)  # type: ignore[arg-type]
        gw.start()
        opened.append(gw)
        key = gw.register_trial("propose")
        return gw, ProposeOptions(base_url=gw.url, api_key=key.key, model="m", timeout_s=30)

    yield start
    for gw in opened:
        gw.close()


def test_a_scripted_reply_becomes_the_candidate_folder(gw_of, run_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "runs" / "harness.db"
    remember_rejected(db, "proj", "night-0", [{"file": f"{TARGET}/SKILL.md", "op": "delete",
                      "section": "## Steps", "rationale": "shorter"}], "reject: lift -0.4")
    gw, opts = gw_of(SCRIPT)
    opts = ProposeOptions(**{**opts.__dict__, "project": "proj", "db_path": db})
    out = tmp_path / "out"
    p = propose([run_dir], {TARGET: EXAMPLES / "skills" / "live"}, out, opts)
    assert p.ok and p.error is None and p.problems == []
    assert p.candidate_dir == out / "candidate"
    got = (out / "candidate" / TARGET / "SKILL.md").read_text()
    assert got == (EXAMPLES / "skills" / "candidate" / "SKILL.md").read_text()
    assert [(e["file"], e["op"], e["section"]) for e in p.edits] == [
        (f"{TARGET}/SKILL.md", "replace", "front matter"),
        (f"{TARGET}/SKILL.md", "replace", "## Steps"),
        (f"{TARGET}/SKILL.md", "add", "## Never")]
    assert all(e["rationale"] for e in p.edits)
    assert p.reply_path is not None and "```json" in p.reply_path.read_text()
    # what the model was asked: the marker, the live skill, the evidence, the rejected edit
    [ex] = gw.exchanges("propose")
    asked = ex.view.user_text
    assert ex.status == 200 and ex.view.stream is False and asked.startswith(MARKER + "\n")
    assert "name: fix-bugs\n" in asked and "> please fix fix-median" in asked
    assert "DO NOT PROPOSE AGAIN: delete '## Steps'" in asked and "reject: lift -0.4" in asked
    assert ex.request["messages"] == [{"role": "user", "content": (out / "prompt.md").read_text()}]
    rec = json.loads((out / "proposal.json").read_text())
    assert rec["ok"] and rec["candidate_dir"] == str(out / "candidate") and len(rec["edits"]) == 3
    # the per-call key opens the Gateway only; it is in no file the proposer wrote
    assert all(opts.api_key not in f.read_text() for f in out.rglob("*") if f.is_file())
    assert opts.api_key not in repr(opts)


def test_a_reply_that_is_no_edit_set_is_kept_and_fails_the_proposal(gw_of, run_dir: Path,
                                                                    tmp_path: Path) -> None:
    _, opts = gw_of(scripted("You should tell the agent to run the tests."))
    out = tmp_path / "out"
    (out / "candidate" / TARGET).mkdir(parents=True)  # an earlier proposal's: not this one's
    p = propose([run_dir], {TARGET: EXAMPLES / "skills" / "live"}, out, opts)
    assert not p.ok and p.candidate_dir is None and p.edits == []
    assert p.error is not None and p.error.startswith("the proposer's reply is not an edit set: ")
    assert "\n" not in p.error
    assert p.reply_path is not None
    assert p.reply_path.read_text() == "You should tell the agent to run the tests."
    assert not (out / "candidate").exists()
    assert json.loads((out / "proposal.json").read_text())["ok"] is False


def test_edits_that_break_the_skill_fail_with_every_problem(gw_of, run_dir: Path,
                                                            tmp_path: Path) -> None:
    reply = json.dumps({"edits": [
        {"file": "SKILL.md", "op": "replace", "section": "front matter",
         "content": "name: fix-bugs", "rationale": "shorter"},
        {"file": "SKILL.md", "op": "replace", "section": "## Steps",
         "content": "## How\n\nJust fix it.", "rationale": "clearer"},
        {"file": "../../outside.md", "op": "delete", "section": "## X", "rationale": "x"}]})
    _, opts = gw_of(scripted(reply))
    out = tmp_path / "out"
    p = propose([run_dir], {TARGET: EXAMPLES / "skills" / "live"}, out, opts)
    assert not p.ok and p.candidate_dir is None and not (out / "candidate").exists()
    assert p.problems == [
        "edits.2: file '../../outside.md' escapes the project (..)",
        f"{TARGET}/SKILL.md: front matter lost its description",
        f"{TARGET}/SKILL.md: heading '## Steps' was dropped (only a delete edit removes a section)"]
    assert p.error == "the proposed files are not valid: 3 problems: " + "; ".join(p.problems)
    assert len(p.edits) == 3 and p.reply_path is not None and p.reply_path.read_text() == reply


def test_a_model_call_that_fails_is_a_failed_proposal(gw_of, run_dir: Path, tmp_path: Path) -> None:
    _, opts = gw_of({"version": 1, "rules": [{"match": {"user": "^nothing like it"},
                                              "reply": {"text": "x"}}]})
    p = propose([run_dir], {TARGET: EXAMPLES / "skills" / "live"}, tmp_path / "out", opts)
    assert not p.ok and p.reply_path is None and p.error is not None
    assert p.error.startswith("the proposer's model call failed: BadRequestError: ")
    assert "no rule matches" in p.error and opts.api_key not in p.error


def test_the_caller_s_own_mistakes_raise_one_line(gw_of, run_dir: Path, tmp_path: Path) -> None:
    _, opts = gw_of(SCRIPT)
    with pytest.raises(ConfigError) as ei:
        propose([run_dir], {TARGET: tmp_path / "nope", "../up": EXAMPLES / "skills" / "live"},
                tmp_path / "out", opts)
    assert str(ei.value) == (f"target '../up' escapes the project (..); target {TARGET}: "
                             f"{tmp_path / 'nope'} does not exist")
    with pytest.raises(ConfigError, match="^not a run folder: "):
        propose([tmp_path], {TARGET: EXAMPLES / "skills" / "live"}, tmp_path / "out", opts)
    with pytest.raises(ConfigError, match="^the edit budget is 0$"):
        propose([run_dir], {TARGET: EXAMPLES / "skills" / "live"}, tmp_path / "out",
                ProposeOptions(**{**opts.__dict__, "max_edits": 0}))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=300, check=False, cwd=ROOT)


@pytest.mark.tmux
@pytest.mark.slow
def test_harness_propose_reads_a_real_run(tmp_path: Path, tmux_bin: str) -> None:
    runs = tmp_path / "runs"
    r = cli("run", str(EXAMPLES), "--agent", "noop", "--provider", "local", "--task",
            "fix-median", "--variant", f"baseline={EXAMPLES / 'skills' / 'live'}", "--trials", "1",
            "--runs-dir", str(runs), "--json")
    assert r.returncode == 0, r.stderr
    run = Path(json.loads(r.stdout)["run_dir"])
    out = tmp_path / "out"
    r = cli("propose", str(run), "--target", f"{TARGET}={EXAMPLES / 'skills' / 'live'}",
            "--out", str(out), "--model-mode", "scripted", "--script", str(SCRIPT))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"proposed 3 edit(s) → {out / 'candidate'}\n")
    assert f"  add '## Never' in {TARGET}/SKILL.md\n    why: Each task also checks" in r.stdout
    assert ((out / "candidate" / TARGET / "SKILL.md").read_text()
            == (EXAMPLES / "skills" / "candidate" / "SKILL.md").read_text())
    prompt = (out / "prompt.md").read_text()
    # the noop agent had no turn: the prompt comes from the suite run.json names
    assert "> median([1, 2, 3, 4]) in textstats.py returns 3" in prompt
    assert "- median tests pass: 1 passed, 1 failed, 0 errors" in prompt
    r = cli("propose", str(run), "--target", "CLAUDE.md=/nonexistent/CLAUDE.md", "--out",
            str(out), "--model-mode", "scripted", "--script", str(SCRIPT))
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: target CLAUDE.md: /nonexistent/CLAUDE.md does not exist (give each target as "
        "NAME=PATH, NAME relative to the project (e.g. .claude/skills/x or CLAUDE.md), PATH "
        "existing)")
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"version: 1\nrules:\n  - match: {{user: '^{MARKER}'}}\n    reply: {{text: 'no'}}\n")
    r = cli("propose", str(run), "--target", f"{TARGET}={EXAMPLES / 'skills' / 'live'}",
            "--out", str(out / "2"), "--model-mode", "scripted", "--script", str(bad))
    assert r.returncode == 1 and r.stderr.splitlines() == [
        "error: the proposer's reply is not an edit set: 1 problem: it holds no JSON object "
        '(expected {"edits": [...]}, optionally in a ```json block)',
        f"the reply is kept at {out / '2' / 'reply.txt'}"]
