"""Mining's parts on digests built in code (the models, not transcripts): grouping, checks
from evidence, splits, the oracle script (run with bash on a scratch folder), the writer,
and `harness run` refusing an unreviewed suite for record/live. The end-to-end path on
sessions the real CLIs wrote is in test_mine_replay.py."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.harvest import digest as dg
from harness.harvest.digest import Digest, FileEdit, StartState, Turn
from harness.mine import MineOptions, mine
from harness.mine.apply_patch import apply
from harness.mine.checks import mine_checks, runner_part
from harness.mine.group import group_digests, similarity
from harness.mine.oracle import oracle_script
from harness.mine.split import assign
from harness.mine.writer import write_suite
from harness.tasks import load_suite

T0 = datetime(2026, 1, 7, 12, tzinfo=UTC)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q", "-b", "main")
    (r / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (r / "tests").mkdir()
    (r / "tests" / "test_calc.py").write_text("from calc import add\n")
    _git(r, "add", "-A")
    _git(r, "-c", "user.name=t", "-c", "user.email=t@e.invalid", "commit", "-qm", "bug")
    return r, _git(r, "rev-parse", "HEAD")


def _d(sid: str, prompts: list[str], *, repo: tuple[Path, str] | None = None, agent: str = "claude",
       files: list[str] | None = None, tests: list[tuple[str, str]] | None = None,
       answer: str = "", minutes: int = 0, edits: list[FileEdit] | None = None) -> Digest:
    cwd = str(repo[0]) if repo else "/nowhere"
    turns = [Turn(index=i, prompt=p) for i, p in enumerate(prompts)]
    turns[-1].final_answer = answer
    return Digest(
        id=f"{agent}:{sid}", agent=agent, session_id=sid, cwd=cwd,  # type: ignore[arg-type]
        start=StartState(repo=cwd, commit=repo[1], how="session") if repo else
        StartState(problem="not a git repository"),
        started_at=T0 + timedelta(minutes=minutes), turns=turns, files_touched=files or [],
        test_runs=[dg.TestRun(turn=0, cmd=c, outcome=o) for c, o in tests or []],  # type: ignore[arg-type]
        edits=edits or [],
    )


def test_similar_prompts_group_and_threshold_decides() -> None:
    a = _d("a", ["Fix add() in calc.py, it returns the wrong result."])
    b = _d("b", ["please fix add in calc.py -- it returns the WRONG result!!"], minutes=5)
    c = _d("c", ["Write a README for the project."], minutes=9)
    assert 1 > similarity(a.prompts[0], b.prompts[0]) > 0.8 > similarity(a.prompts[0], c.prompts[0])
    groups = group_digests([c, b, a], 0.8)
    assert [[m.session_id for m in g.members] for g in groups] == [["a", "b"], ["c"]]
    assert groups[0].key == group_digests([a], 0.8)[0].key  # named by the oldest session
    assert len(group_digests([a, b, c], 0.99)) == 3


def test_test_segment_keeps_cd_and_drops_edits() -> None:
    assert runner_part("sed -i 's/a/b/' x.py && python3 -m pytest -q") == "python3 -m pytest -q"
    assert runner_part("cd pkg && pytest tests") == "cd pkg && pytest tests"
    assert runner_part("ls -la") is None


def test_checks_from_evidence(repo: tuple[Path, str]) -> None:
    files = ["calc.py", "tests/test_calc.py"]
    s1 = _d("1", ["fix add"], repo=repo, files=["calc.py", "NOTES.md"],
            tests=[("pytest -q", "failed"), ("sed -i x calc.py && pytest -q", "passed")])
    s2 = _d("2", ["fix add"], repo=repo, files=["calc.py"], tests=[("pytest -q", "passed")])
    m = mine_checks([s1, s2], files, "")
    ops = {c["op"]: c for c in m.checks}
    assert ops["tests"]["cmd"] == "pytest -q"  # pytest: the summary-reading tests check
    assert ops["diff_touches"]["paths"] == ["calc.py"]  # what every session changed
    assert ops["diff_not_touches"]["paths"] == ["tests/test_calc.py"]
    assert m.discriminating
    # another runner: judged by exit code; tests only ever green cannot tell work from none
    s3 = _d("3", ["explain"], repo=repo, tests=[("python3 -m unittest", "passed")])
    m3 = mine_checks([s3], files, "")
    assert [c["op"] for c in m3.checks] == ["command", "diff_not_touches"]
    assert not m3.discriminating
    # a session that ran in a sub-folder of the repo: paths and the test command follow it
    sub = mine_checks([s1], ["pkg/calc.py", "pkg/tests/test_x.py", "tests/test_calc.py"], "pkg")
    assert {c["op"]: c.get("cmd", c.get("paths")) for c in sub.checks} == {
        "tests": "cd pkg && pytest -q", "diff_touches": ["pkg/NOTES.md", "pkg/calc.py"],
        "diff_not_touches": ["pkg/tests/test_x.py"]}
    # a session that edited the tests: no diff_not_touches on them
    s4 = _d("4", ["fix"], repo=repo, files=["tests/test_calc.py"])
    assert "diff_not_touches" not in [c["op"] for c in mine_checks([s4], files, "").checks]


def test_answer_shape_needs_every_answer(repo: tuple[Path, str]) -> None:
    ans = "## Summary\nok\n\n## Risks\n- none\n"
    one = _d("1", ["review"], repo=repo, answer=ans)
    two = _d("2", ["review"], repo=repo, answer="## Summary\nfine\n- a\n")
    checks = mine_checks([one, two], [], "").checks
    assert {"op": "section_present", "heading": "Summary", "name": "mined answer shape"} in checks
    assert not any(c.get("heading") == "Risks" for c in checks)  # not in every answer
    assert any(c["op"] == "regex" for c in checks)  # both answers hold a list
    assert mine_checks([one, _d("3", ["review"], repo=repo)], [], "").checks == []


def test_mine_drops_with_reasons_and_prefers_recurring(repo: tuple[Path, str]) -> None:
    fix = [FileEdit(turn=0, tool="Edit", op="replace", path="calc.py", old="a - b", new="a + b")]
    ds = [
        _d("once", ["rename the module"], repo=repo, files=["calc.py"], minutes=1, edits=fix),
        _d("r1", ["fix add() in calc.py"], repo=repo, files=["calc.py"], minutes=2, edits=fix,
           tests=[("pytest", "failed"), ("pytest", "passed")]),
        _d("r2", ["Fix add() in calc.py."], repo=repo, files=["calc.py"], minutes=3, edits=fix,
           tests=[("pytest", "passed")], agent="codex"),
        _d("talk", ["what does mul do?"], repo=repo, minutes=4, answer="It multiplies."),
        _d("norepo", ["fix the build"], files=["x.c"], minutes=5),
    ]
    rep, built = mine(ds, MineOptions(max_tasks=1))
    assert [b.data["tags"][:2] for b in built] == [["mined", "recurring"]]
    assert rep.tasks[0].sessions == ["claude:r1", "codex:r2"]
    reasons = {tuple(d.sessions): d.reason for d in rep.dropped}
    assert reasons[("claude:once",)] == "over --max-tasks 1"
    assert "would pass with no work" in reasons[("claude:talk",)]
    assert reasons[("claude:norepo",)].startswith("no start commit (not a git repository)")
    _rep2, built2 = mine(ds, MineOptions(allow_no_repo=True))
    nr = next(b for b in built2 if "claude:norepo" in b.summary.sessions)  # type: ignore[union-attr]
    assert "workspace" not in nr.data and nr.data["id"].endswith("-norepo")


def test_split_by_group_seeded_and_frozen() -> None:
    groups = {f"g{i}": [f"g{i}-a", f"g{i}-b"] for i in range(9)}
    s = assign(groups, 0.34, 7, set())
    held = {k for k, ids in groups.items() if s[ids[0]] == "heldout"}
    assert len(held) == 3
    assert all(s[a] == s[b] for a, b in groups.values())  # a group never straddles splits
    assert assign(groups, 0.34, 7, set()) == s
    assert assign(groups, 0.34, 8, set()) != s
    f = assign(groups, 0.34, 7, {"g0-b"})
    assert f["g0-a"] == f["g0-b"] == "frozen"
    # a new group later does not move the old ones between train and heldout, bar the count
    more = assign({**groups, "g9": ["g9-a"]}, 0.34, 7, set())
    moved = [i for i in s if s[i] != more[i]]
    assert len(moved) <= 2


def test_oracle_redoes_every_kind_of_edit(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / "pkg").mkdir(parents=True)
    (work / "pkg" / "a.py").write_text("x = 1\ny = 2\n")
    (work / "b.txt").write_text("one\ntwo\nthree\n")
    edits = [
        FileEdit(turn=0, tool="Write", op="write", path="new/c.txt", content="made 'quoted' $HOME\n"),
        FileEdit(turn=0, tool="Edit", op="replace", path="pkg/a.py", old="y = 2", new="y = 3"),
        FileEdit(turn=0, tool="Edit", op="replace", path="pkg/a.py", old="gone", new="x",
                 is_error=True),  # failed then: skipped now
        FileEdit(turn=0, tool="apply_patch", op="patch", patch=(
            "*** Begin Patch\n*** Update File: b.txt\n@@\n one\n-two\n+TWO\n three\n"
            "*** Add File: d.txt\n+hello\n*** End Patch")),
        FileEdit(turn=1, tool="Bash", op="shell", cmd=f"sed -i 's/x = 1/x = 5/' {work}/pkg/a.py"),
    ]
    d = Digest(id="claude:s", agent="claude", session_id="s", cwd=str(work), edits=edits)
    script, note = oracle_script(d, str(work), "")
    assert script is not None, note
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert (work / "new" / "c.txt").read_text() == "made 'quoted' $HOME\n"
    assert (work / "pkg" / "a.py").read_text() == "x = 5\ny = 3\n"
    assert (work / "b.txt").read_text() == "one\nTWO\nthree\n"
    assert (work / "d.txt").read_text() == "hello\n"
    cut = Digest(id="claude:t", agent="claude", session_id="t",
                 edits=[FileEdit(turn=0, tool="Write", op="write", path="a", content="x",
                                 truncated=True)])
    assert oracle_script(cut, "/w", "") == (None, "an edit was cut short in the digest (too long to redo)")


def test_apply_patch_reports_a_missing_hunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("a\n")
    with pytest.raises(SystemExit, match="hunk not found in f"):
        apply("*** Begin Patch\n*** Update File: f\n@@\n-zzz\n+y\n*** End Patch")


def test_written_suite_loads_unreviewed_and_run_refuses_live(repo: tuple[Path, str],
                                                              tmp_path: Path) -> None:
    fix = [FileEdit(turn=0, tool="Edit", op="replace", path="calc.py", old="a - b", new="a + b")]
    ds = [_d("r1", ["fix add"], repo=repo, files=["calc.py"], edits=fix)]
    rep, built = mine(ds, MineOptions())
    out = tmp_path / "suite"
    write_suite(out, built, rep, name="mined")
    suite = load_suite(out)
    assert suite.config.reviewed is False and len(suite) == 1
    task = suite.tasks[0]
    assert task.workspace is not None and task.workspace.ref == repo[1]
    assert task.oracle_script() == built[0].oracle
    hand = tmp_path / "hand"
    hand.mkdir()
    (hand / "t.yaml").write_text("id: t\nprompt: hi\n")
    with pytest.raises(ConfigError, match="not a mined suite"):
        write_suite(hand, built, rep, name="x")
    write_suite(out, [], rep, name="mined")  # re-mining replaces the tasks
    assert not (out / "tasks").exists() or not any((out / "tasks").iterdir())
    write_suite(out, built, rep, name="mined")
    for mode in ("live", "record"):
        r = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(out), "--model", mode,
                            "--variant", "baseline=none", "--cassette", str(tmp_path / "c.jsonl"),
                            "--runs-dir", str(tmp_path / "runs")],
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines() == [
            (f"error: suite {out} was mined and not reviewed: --model-mode {mode} refused (read its "
             "tasks, then set `reviewed: true` in its suite.yaml)")]
    cfg = yaml.safe_load((out / "suite.yaml").read_text())
    (out / "suite.yaml").write_text(yaml.safe_dump({**cfg, "reviewed": True}))
    r = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(out), "--model", "live",
                        "--variant", "baseline=none", "--runs-dir", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=120, check=False,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert "not reviewed" not in r.stderr and "API key" in r.stderr  # past the review gate


def test_mine_cli_with_a_scripted_rubric_judge(repo: tuple[Path, str], tmp_path: Path) -> None:
    """`harness mine --judge rubric` as a user runs it, the judge scripted on a real Gateway:
    the rubric lands in the task as a model-written check and the report says so."""
    from harness.harvest import HarvestStore

    fix = [FileEdit(turn=0, tool="Edit", op="replace", path="calc.py", old="a - b", new="a + b")]
    d = _d("r1", ["fix add() please"], repo=repo, files=["calc.py"], edits=fix,
           answer="Fixed add().")
    runs = tmp_path / "runs"
    with HarvestStore(runs / "harness.db") as store:
        store.save("claude", "/x.jsonl", 1, 1, outcome="kept", session_id="r1", cwd=d.cwd, digest=d)
    rubric = "- add(1, 2) returns 3\\n- the answer names the bug"
    (tmp_path / "judge.yaml").write_text(
        "version: 1\nrules:\n  - match: {user: 'fix add\\(\\) please'}\n"
        f'    reply: {{text: "{rubric}"}}\n')
    out = tmp_path / "suite"

    def mine_cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness.cli", "mine", "--out", str(out),
                               "--runs-dir", str(runs), "--judge", "rubric", *extra],
                              capture_output=True, text=True, timeout=120, check=False)

    r = mine_cli("--model", "scripted", "--policy", str(tmp_path / "judge.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    [task] = json.loads(r.stdout)["tasks"]
    assert task["model_checks"] == ["rubric"] and task["checks"][-1] == "rubric"
    data = yaml.safe_load(next(out.glob("tasks/*/task.yaml")).read_text())
    assert data["checks"][-1] == {"op": "rubric", "name": "mined rubric (model-written)",
                                  "rubric": "- add(1, 2) returns 3\n- the answer names the bug"}
    assert load_suite(out).tasks[0].checks[-1]["op"] == "rubric"
    r = mine_cli("--model-mode", "scripted")
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: --judge rubric --model-mode scripted needs --script FILE")
    r = mine_cli("--model-mode", "scripted", "--script", str(tmp_path / "judge.yaml"), "--json")
    assert r.returncode == 0, r.stderr  # the new spellings; the old ones above still work


def test_target_skill_comes_first(repo: tuple[Path, str]) -> None:
    fix = [FileEdit(turn=0, tool="Edit", op="replace", path="calc.py", old="a - b", new="a + b")]
    plain = [_d(f"p{i}", ["fix add() in calc.py"], repo=repo, files=["calc.py"], edits=fix,
                minutes=i) for i in range(2)]
    skilled = _d("s", ["explain and fix mul"], repo=repo, files=["calc.py"], edits=fix, minutes=5)
    skilled.skills = ["calc-explainer"]
    _rep, built = mine([*plain, skilled], MineOptions())
    assert [b.summary.sessions for b in built] == [["claude:p0", "claude:p1"], ["claude:s"]]  # type: ignore[union-attr]
    _rep, built = mine([*plain, skilled], MineOptions(target_skill="calc-explainer", max_tasks=1))
    assert [b.summary.sessions for b in built] == [["claude:s"]]  # type: ignore[union-attr]
    assert "target-skill" in built[0].data["tags"]
