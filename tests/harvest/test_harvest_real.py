"""``harness harvest`` on session files the real claude and codex CLIs wrote (see
conftest.py / realcli.py): what a digest holds, the start commit of each session, secrets
never written, incremental harvests, and the user's repository left exactly as it was."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

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
    Layout,
)

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()


def _opts(lay: Layout, **kw: object) -> HarvestOptions:
    return HarvestOptions(claude_home=lay.claude_home, codex_home=lay.codex_home, environ={}, **kw)  # type: ignore[arg-type]


def _by_prompt(digests: list, agent: str, prompt: str):
    found = [
        d
        for d in digests
        if d.agent == agent and d.turns and d.turns[0].prompt.startswith(prompt[:30])
    ]
    assert len(found) == 1, [(d.agent, d.prompts) for d in digests]
    return found[0]


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_digest_of_a_real_session(cli_sessions: Generated, tmp_path: Path, agent: str) -> None:
    lay = cli_sessions.install(tmp_path)
    _git(lay.repo, "remote", "add", "origin", "https://fixture:pl4nted-pw@example.invalid/calc.git")
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(_opts(lay, project=lay.repo, source=agent), store)
    assert (rep.found, rep.read, rep.kept, rep.skipped) == (2, 2, 2, 0), rep.skipped_sessions
    assert rep.problems == []
    fix = _by_prompt(rep.digests, agent, PROMPT_FIX)
    assert fix.cwd == str(lay.repo) and fix.branch == "main" and fix.project == str(lay.repo)
    assert fix.cli_version == ("2.1.197" if agent == "claude" else "0.169.0")
    # two prompts, the second after the first; each with its own final answer (redacted)
    assert [t.prompt[:40] for t in fix.turns] == [PROMPT_FIX[:40], PROMPT_SHOW[:40]]
    assert fix.turns[0].final_answer == ANSWER_FIX
    assert (
        fix.turns[1].final_answer.startswith("deploy.env holds")
        and "[REDACTED]" in fix.turns[1].final_answer
    )
    # the tests ran red, then green; the session ended green
    assert [(r.cmd.endswith(TEST_CMD), r.outcome, r.exit_code) for r in fix.test_runs] == [
        (True, "failed", 1),
        (True, "passed", 0),
    ]
    assert fix.tests_passed_at_end is True
    assert "calc.py" in fix.files_touched
    if agent == "claude":
        assert "NOTES.md" in fix.files_touched and fix.tools == {"Bash": 3, "Write": 1}
    else:
        assert fix.tools == {"exec_command": 3}
    assert [e.signature for e in fix.errors] == ["AssertionError: -<n> != <n>"]
    assert fix.tokens.input > 0 and fix.tokens.output > 0
    assert fix.started_at is not None and fix.ended_at is not None and fix.started_at < fix.ended_at
    # the start commit is where the session began, not the repo's HEAD today
    head = _git(lay.repo, "rev-parse", "HEAD")
    assert head != cli_sessions.commits[-1]
    assert fix.start.commit == cli_sessions.commits[-1], fix.start
    assert (
        fix.start.how == ("rev-list" if agent == "claude" else "session")
        and not fix.start.approximate
    )
    assert fix.start.repo == str(lay.repo)
    if agent == "claude":  # from the repo's origin, its password redacted
        assert fix.start.repository_url == "https://fixture:[REDACTED]@example.invalid/calc.git"
    else:  # what codex recorded: the clone's origin, here the host repo
        assert fix.start.repository_url == str(lay.repo)
    # the edits, as the tools made them: enough to redo the session's work at its start commit
    shell = [e for e in fix.edits if e.op == "shell"]
    assert [e.cmd for e in shell] == [FIX_CMD] and not shell[0].is_error
    if agent == "claude":
        (write,) = [e for e in fix.edits if e.op == "write"]
        assert (write.path, write.content, write.tool) == ("NOTES.md", "add() fixed\n", "Write")
    assert len(fix.edits) == (2 if agent == "claude" else 1)
    later = _by_prompt(rep.digests, agent, PROMPT_LATER)
    assert later.final_answer == ANSWER_LATER and later.skills == [SKILL]
    assert later.test_runs == [] and later.tests_passed_at_end is None
    # the store holds the same digests
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        assert store.digest(agent, fix.session_id) == fix


def test_secrets_never_written(cli_sessions: Generated, tmp_path: Path) -> None:
    """Each kind of secret was in the real sessions (prompt, tool output, answer); none is in
    harvest's stdout (table and JSON), stderr (progress) or the store."""
    lay = cli_sessions.install(tmp_path)
    raw = "".join(
        p.read_text() for p in [*lay.claude_home.rglob("*.jsonl"), *lay.codex_home.rglob("*.jsonl")]
    )
    for name, value in SECRETS.items():
        assert value in raw, f"{name} was not planted in the real sessions"
    runs = tmp_path / "runs"
    args = [
        "--claude-home",
        str(lay.claude_home),
        "--codex-home",
        str(lay.codex_home),
        "--runs-dir",
        str(runs),
    ]
    table = harvest_cli(*args)
    shutil.rmtree(runs)
    js = harvest_cli(*args, "--json")
    for r in (table, js):
        assert r.returncode == 0, r.stderr
    assert "kept 4" in table.stdout and str(lay.claude_home) in table.stderr
    report = json.loads(js.stdout)
    assert report["kept"] == 4
    outputs = {
        "table stdout": table.stdout,
        "table stderr": table.stderr,
        "json stdout": js.stdout,
        "json stderr": js.stderr,
    }
    for p in runs.iterdir():  # the SQLite file and its WAL
        outputs[p.name] = p.read_bytes().decode("utf-8", errors="replace")
    with HarvestStore(runs / "harness.db") as store:
        outputs["store digests"] = "".join(d.model_dump_json() for d in store.digests())
    assert "[REDACTED]" in outputs["json stdout"] and "[REDACTED]" in outputs["store digests"]
    for where, text in outputs.items():
        for name, value in SECRETS.items():
            assert value not in text, f"the {name} secret is in {where}"
            assert value[-12:] not in text, f"a piece of the {name} secret is in {where}"


def test_incremental_harvest_reads_only_new_sessions(
    cli_sessions: Generated, tmp_path: Path
) -> None:
    lay = cli_sessions.install(tmp_path, sessions={"claude": ["fix"], "codex": ["fix"]})
    db = tmp_path / "runs" / "harness.db"
    with HarvestStore(db) as store:
        first = harvest(_opts(lay, project=lay.repo), store)
        again = harvest(_opts(lay, project=lay.repo), store)
    assert (first.read, first.kept) == (2, 2)
    assert (again.found, again.read, again.kept, again.unchanged) == (2, 0, 0, 2)
    cli_sessions.add(lay, {"claude": ["later"], "codex": ["later"]})  # the CLIs wrote new sessions
    with HarvestStore(db) as store:
        third = harvest(_opts(lay, project=lay.repo), store)
        assert (third.found, third.read, third.kept, third.unchanged) == (4, 2, 2, 2)
        assert {d.turns[0].prompt for d in third.digests} == {PROMPT_LATER}
        last = store.last_run(str(lay.repo))
        assert last is not None and last["counts"]["kept"] == 2
    # the CLIs delete old sessions: the digests stay
    for p in [*lay.claude_home.rglob("*.jsonl"), *lay.codex_home.rglob("*.jsonl")]:
        p.unlink()
    with HarvestStore(db) as store:
        gone = harvest(_opts(lay, project=lay.repo), store)
        assert gone.found == 0
        kept = store.digests(project=str(lay.repo))
    assert len(kept) == 4 and {d.agent for d in kept} == {"claude", "codex"}


def test_a_grown_session_is_read_again(cli_sessions: Generated, tmp_path: Path) -> None:
    """A resumed session appends to its file: the next harvest replaces its digest."""
    lay = cli_sessions.install(tmp_path, sessions={"claude": ["fix"], "codex": []})
    db = tmp_path / "runs" / "harness.db"
    with HarvestStore(db) as store:
        harvest(_opts(lay), store)
        f = next(lay.claude_home.rglob("*.jsonl"))
        lines = f.read_text().splitlines()
        prompt = next(json.loads(ln) for ln in lines if '"Show me what deploy.env holds."' in ln)
        prompt["message"]["content"] = "One more thing: is mul() tested?"
        prompt["timestamp"], prompt["uuid"] = "2099-01-01T00:00:00.000Z", "resumed-prompt"
        f.write_text(f.read_text() + json.dumps(prompt) + "\n")
        rep = harvest(_opts(lay), store)
        assert (rep.read, rep.kept, rep.unchanged) == (1, 1, 0)
        d = store.digest("claude", rep.digests[0].session_id)
    assert (
        d is not None and d.prompts[-1] == "One more thing: is mul() tested?" and len(d.turns) == 3
    )


def test_the_users_repository_is_not_modified(cli_sessions: Generated, tmp_path: Path) -> None:
    lay = cli_sessions.install(tmp_path)
    repo = lay.repo
    (repo / "calc.py").write_text("# work in progress\n")
    _git(repo, "stash", "push", "-q", "-m", "wip")
    (repo / "calc.py").write_text("# more work in progress\n")
    _git(repo, "add", "calc.py")
    _git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    (repo / "untracked.txt").write_text("mine\n")

    def state() -> dict[str, object]:
        return {
            "HEAD": _git(repo, "rev-parse", "HEAD"),
            "symbolic": _git(repo, "symbolic-ref", "HEAD"),
            "index": (repo / ".git" / "index").read_bytes(),
            "stash": _git(repo, "stash", "list"),
            "worktrees": _git(repo, "worktree", "list", "--porcelain"),
            "status": _git(repo, "status", "--porcelain=v2", "--untracked-files=all"),
            "refs": _git(repo, "for-each-ref"),
            "calc": (repo / "calc.py").read_text(),
        }

    before = state()
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(_opts(lay, project=repo), store)
    assert rep.kept == 4 and all(d.start.commit for d in rep.digests)
    assert state() == before


def _digest_for(rep, agent: str, prompt: str = PROMPT_FIX):
    return _by_prompt(rep.digests, agent, prompt)


def test_start_commit_when_the_repo_changed(cli_sessions: Generated, tmp_path: Path) -> None:
    """The branch gone (claude falls back to the default branch: approximate), the commit
    gone (codex), the repo gone, a cwd that is not a repo: each session is kept with the reason."""
    lay = cli_sessions.install(tmp_path, later_commit=False)
    repo = lay.repo
    # claude's branch `main` is renamed `master`; the commit it started at stays reachable
    _git(repo, "branch", "-m", "main", "master")
    with HarvestStore(tmp_path / "r1" / "harness.db") as store:
        rep = harvest(_opts(lay, source="claude"), store)
    d = _digest_for(rep, "claude")
    assert (
        d.start.commit == cli_sessions.commits[-1]
        and d.start.approximate
        and d.start.how == "default-branch"
    )
    assert d.start.branch == "master" and d.branch == "main"
    # codex's recorded commit is dropped from the history
    _git(repo, "reset", "-q", "--hard", cli_sessions.commits[0])
    _git(repo, "reflog", "expire", "--expire=now", "--all")
    _git(repo, "gc", "-q", "--prune=now")
    with HarvestStore(tmp_path / "r2" / "harness.db") as store:
        rep = harvest(_opts(lay, source="codex"), store)
    d = _digest_for(rep, "codex")
    assert d.start.commit is None and "is gone" in (d.start.problem or "") and rep.kept == 2
    # not a repository any more
    shutil.rmtree(repo / ".git")
    with HarvestStore(tmp_path / "r3" / "harness.db") as store:
        rep = harvest(_opts(lay), store)
    assert rep.kept == 4
    assert all("is not a git repository" in (d.start.problem or "") for d in rep.digests), [
        d.start for d in rep.digests
    ]
    # the repository is gone
    shutil.rmtree(repo)
    with HarvestStore(tmp_path / "r4" / "harness.db") as store:
        rep = harvest(_opts(lay), store)
    assert rep.kept == 4 and all("no longer exists" in (d.start.problem or "") for d in rep.digests)


def test_project_since_and_max_sessions(cli_sessions: Generated, tmp_path: Path) -> None:
    lay = cli_sessions.install(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(_opts(lay, project=other), store)
        # claude's slug directories of other projects are not even opened; codex files are read
        assert rep.kept == 0 and rep.skipped_reasons == {"outside --project": 2}
        few = harvest(_opts(lay, project=lay.repo, max_sessions=1), store)
        assert (few.read, few.kept) == (1, 1)
        assert few.skipped_reasons == {"over --max-sessions": 3}
        rest = harvest(_opts(lay, project=lay.repo), store)
        assert (rest.read, rest.kept, rest.unchanged) == (3, 3, 1)
        everything = store.digests()
    from datetime import UTC, datetime, timedelta

    with HarvestStore(tmp_path / "r2" / "harness.db") as store:
        future = harvest(_opts(lay, since=datetime.now(UTC) + timedelta(days=3)), store)
    assert future.kept == 0 and future.skipped == future.found == 4
    assert any("in the future" in p.what for p in future.problems)
    # a --since between the sessions' last message and their files' mtime: each file is read,
    # found too old, and still harvested by a later run without --since
    ended = max(d.ended_at for d in everything if d.ended_at)
    mtime = min(
        p.stat().st_mtime
        for p in [*lay.claude_home.rglob("*.jsonl"), *lay.codex_home.rglob("*.jsonl")]
    )
    assert ended.timestamp() < mtime
    since = datetime.fromtimestamp((ended.timestamp() + mtime) / 2, UTC)
    with HarvestStore(tmp_path / "r3" / "harness.db") as store:
        old = harvest(_opts(lay, since=since), store)
        assert (old.read, old.kept, old.skipped_reasons) == (4, 0, {"ended before --since": 4})
        later = harvest(_opts(lay), store)
    assert (later.read, later.kept) == (4, 4)
