"""Candidates from folders and git refs, completed from the live files, without touching the
user's checkout; unreadable or pointless ones are recorded with a reason and the rest go on."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.nightly.candidates import NightDirs, baseline, gather
from harness.nightly.config import load_config
from harness.runner.variants import load_variant
from tests.nightly.helpers import SKILL_NEW, SKILL_OLD, write_config, write_skill


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.invalid",
                           "-c", "user.name=t", *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_folder_and_git_candidates(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    write_skill(proj, SKILL_NEW)
    (proj / "CLAUDE.md").write_text("# Notes v1\n")
    _git(proj, "init", "-q", "-b", "main")
    _git(proj, "add", "-A")
    _git(proj, "commit", "-qm", "v1")
    _git(proj, "tag", "skill-v1")
    write_skill(proj, SKILL_OLD)            # the live files moved on, uncommitted
    (proj / "CLAUDE.md").write_text("# Notes v2\n")
    status = _git(proj, "status", "--porcelain")
    head = _git(proj, "rev-parse", "HEAD")
    same = tmp_path / "same"
    write_skill(same, SKILL_OLD)            # identical to live: nothing to replay
    memo = tmp_path / "memo"
    memo.mkdir()
    (memo / "CLAUDE.md").write_text("# Notes v3\n")   # only one target: the skill stays live
    (tmp_path / "s.yaml").write_text("version: 1\nrules: []\n")
    f = write_config(tmp_path / "nightly.yaml", project="proj",
                     targets=[".claude/skills/calc", "CLAUDE.md"], model={"script": "s.yaml"},
                     candidates={"folders": ["same", "memo"], "git_refs": ["skill-v1", "nope"]})
    cfg = load_config(f)
    dirs = NightDirs(tmp_path / "night")
    base = load_variant("baseline", baseline(cfg, dirs))
    assert base.skills[0].name == "calc-helper" and base.memory["CLAUDE.md"] == b"# Notes v2\n"
    outs = gather(cfg, dirs, night_id="n1", db_path=tmp_path / "db", evidence_runs=[],
                  say=lambda m: None)
    by = {c.name: c for c in outs}
    assert [c.source for c in outs] == ["folder", "folder", "git", "git"]
    assert by["folder-same"].verdict == "skipped" and "identical" in by["folder-same"].reason
    assert by["folder-memo"].verdict is None
    v = load_variant("memo", dirs.variant("folder-memo"))
    assert v.memory["CLAUDE.md"] == b"# Notes v3\n" and v.skills[0].name == "calc-helper"
    assert by["git-skill-v1"].verdict is None
    g = load_variant("git", dirs.variant("git-skill-v1"))
    assert g.skills[0].name == "calc-fixer" and g.memory["CLAUDE.md"] == b"# Notes v1\n"
    assert by["git-nope"].verdict == "invalid" and "git rev-parse" in by["git-nope"].reason
    # the user's checkout, index and HEAD as they were
    assert _git(proj, "status", "--porcelain") == status
    assert _git(proj, "rev-parse", "HEAD") == head
    assert (proj / ".claude/skills/calc/SKILL.md").read_text() == SKILL_OLD
