"""Adopt writes the candidate into the live skill's own layout, and rollback undoes it exactly.

Each case builds a live skill in one of the layouts people keep skills in, and a candidate
stored the way a run stores it (``runs/<id>/variants/<name>/skills/<skill>/...`` via
``variant_files``); adopt must leave the live files identical to the candidate, rollback must
leave the whole live tree identical to before (files adopt created gone, folders too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from skill_trees import as_run_stores_it, skill_md, snapshot, write

import gate.fileswap
from gate.staging import adopt, load_manifest, rollback, stage
from harness.errors import GateError


@dataclass
class Case:
    live_arg: Path                 # what --live names: a folder or one file
    live_root: Path                # the folder the live paths are relative to
    candidate: Path                # the candidate as the run stores it (or a single file)
    expected: dict[str, str]       # live path -> the text adopt must leave there


def skill_folder(t: Path) -> Case:
    """gbrain-evals / SkillOpt: one skill, SKILL.md at the folder's root, plus other files."""
    live = write(t / "live", {
        "SKILL.md": skill_md("analyst", "Be exhaustive."),
        "benchmark.jsonl": '{"task_id": "bm-001"}\n',
        "references/style.md": "old style\n",
    })
    src = write(t / "src", {
        "SKILL.md": skill_md("analyst", "Be brief; lead with the verdict."),
        "references/style.md": "new style\n",
        "references/checklist.md": "a new file\n",
        "examples/deep/one.md": "a new nested folder\n",
    })
    exp = {k: (src / k).read_text() for k in
           ("SKILL.md", "references/style.md", "references/checklist.md", "examples/deep/one.md")}
    return Case(live, live, as_run_stores_it(src, t / "run/variants/candidate"), exp)


def skills_dir(t: Path) -> Case:
    """A folder of skills under skills/<name>/ with a CLAUDE.md beside them."""
    live = write(t / "live", {
        "skills/alpha/SKILL.md": skill_md("alpha", "old alpha"),
        "skills/beta/SKILL.md": skill_md("beta", "beta"),
        "CLAUDE.md": "old memory\n",
    })
    src = write(t / "src", {
        "skills/alpha/SKILL.md": skill_md("alpha", "new alpha"),
        "skills/alpha/extra.md": "new alpha extra\n",
        "skills/beta/SKILL.md": skill_md("beta", "beta"),
        "CLAUDE.md": "new memory\n",
    })
    exp = {k: (src / k).read_text() for k in
           ("skills/alpha/SKILL.md", "skills/alpha/extra.md", "skills/beta/SKILL.md", "CLAUDE.md")}
    return Case(live, live, as_run_stores_it(src, t / "run/variants/candidate"), exp)


def name_dirs(t: Path) -> Case:
    """A folder of skills as <name>/SKILL.md; the candidate is one of them, renamed folder."""
    live = write(t / "live", {
        "alpha/SKILL.md": skill_md("alpha", "alpha"),
        "beta-folder/SKILL.md": skill_md("beta", "old beta"),  # matched by frontmatter name
    })
    src = write(t / "src/beta", {
        "SKILL.md": skill_md("beta", "new beta"),
        "notes.md": "beta notes\n",
    })
    exp = {"beta-folder/SKILL.md": (src / "SKILL.md").read_text(),
           "beta-folder/notes.md": "beta notes\n"}
    return Case(live, live, as_run_stores_it(src, t / "run/variants/candidate"), exp)


def skill_file(t: Path) -> Case:
    """--live names one SKILL.md file; the candidate is one SKILL.md file too."""
    live = write(t / "live", {"SKILL.md": skill_md("solo", "old"), "other.txt": "x\n"})
    cand = write(t / "cand", {"SKILL.md": skill_md("solo", "new")})
    return Case(live / "SKILL.md", live, cand / "SKILL.md", {"SKILL.md": skill_md("solo", "new")})


def claude_onto_agents(t: Path) -> Case:
    """The candidate's CLAUDE.md replaces the live AGENTS.md (the live side has only that)."""
    live = write(t / "live", {"AGENTS.md": "old agents\n",
                              "skills/alpha/SKILL.md": skill_md("alpha", "a")})
    src = write(t / "src", {"CLAUDE.md": "new memory\n",
                            "skills/alpha/SKILL.md": skill_md("alpha", "a")})
    exp = {"AGENTS.md": "new memory\n", "skills/alpha/SKILL.md": skill_md("alpha", "a")}
    return Case(live, live, as_run_stores_it(src, t / "run/variants/candidate"), exp)


def agents_onto_claude_file(t: Path) -> Case:
    """--live is a CLAUDE.md file; the candidate an AGENTS.md file."""
    live = write(t / "live", {"CLAUDE.md": "old claude\n"})
    cand = write(t / "cand", {"AGENTS.md": "new agents\n"})
    return Case(live / "CLAUDE.md", live, cand / "AGENTS.md", {"CLAUDE.md": "new agents\n"})


CASES: dict[str, Callable[[Path], Case]] = {
    "skill-folder": skill_folder,
    "skills-dir": skills_dir,
    "name-dirs": name_dirs,
    "skill-file": skill_file,
    "claude-onto-agents": claude_onto_agents,
    "agents-onto-claude-file": agents_onto_claude_file,
}


def do_stage(c: Case, st: Path) -> None:
    stage(run_id="r1", candidate="candidate", candidate_dir=c.candidate, live_root=c.live_arg,
          stage_dir=st)


@pytest.mark.parametrize("layout", CASES)
def test_adopt_writes_the_candidate_into_the_live_layout_and_rollback_restores_it(
    layout: str, tmp_path: Path
) -> None:
    c = CASES[layout](tmp_path)
    st = tmp_path / "stage"
    before = snapshot(c.live_root)
    do_stage(c, st)
    assert snapshot(c.live_root) == before  # staging never touches the live files

    adopt(st)
    after = snapshot(c.live_root)
    for rel, text in c.expected.items():
        assert after[rel] == text.encode(), rel
    untouched = {k: v for k, v in before.items() if k not in c.expected}
    assert {k: v for k, v in after.items() if k in untouched} == untouched
    new_paths = set(after) - set(before)
    assert all(p in c.expected or after[p] is None for p in new_paths), new_paths
    assert not (c.live_root / "skills" / "analyst").exists()  # the old wrong mapping

    rollback(st)
    assert snapshot(c.live_root) == before
    assert load_manifest(st).state == "rolled_back"


@pytest.mark.parametrize("layout", CASES)
def test_adopt_refuses_any_live_drift_since_staging(layout: str, tmp_path: Path) -> None:
    c = CASES[layout](tmp_path)
    st = tmp_path / "stage"
    do_stage(c, st)
    for f in load_manifest(st).files:
        live = c.live_root / f.path
        original = live.read_bytes() if f.live_sha256 else None
        if original is None:
            write(c.live_root, {f.path: "appeared since staging\n"})
            match = f"{f.path} \\(appeared\\)"
        else:
            live.write_bytes(original + b"hand edit\n")
            match = f"changed since staging: {f.path}"
        drifted = snapshot(c.live_root)
        with pytest.raises(GateError, match=match):
            adopt(st)
        assert snapshot(c.live_root) == drifted  # refused before writing anything
        if original is None:
            live.unlink()
        else:
            live.write_bytes(original)
    adopt(st)  # back as staged: now it goes through
    assert load_manifest(st).state == "adopted"


def test_the_gbrain_layout_bug_adopt_changes_the_live_skill_md(tmp_path: Path) -> None:
    """The regression: stage mapped skills/<name>/SKILL.md under a root-SKILL.md folder."""
    c = skill_folder(tmp_path)
    st = tmp_path / "stage"
    do_stage(c, st)
    files = {f.path: f for f in load_manifest(st).files}
    assert files["SKILL.md"].source == "skills/analyst/SKILL.md"
    assert files["SKILL.md"].live_sha256 is not None  # so drift detection can fire
    assert load_manifest(st).layout == "one skill folder"
    adopt(st)
    assert "lead with the verdict" in (c.live_root / "SKILL.md").read_text()
    assert not (c.live_root / "skills").exists()


# ---------------------------------------------------------------- ambiguous: refused


def amb_two_skills_onto_one(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"SKILL.md": skill_md("one", "x")})
    cand = write(t / "cand", {"skills/a/SKILL.md": skill_md("a", "a"),
                              "skills/b/SKILL.md": skill_md("b", "b")})
    return cand, live


def amb_unknown_skill(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"skills/a/SKILL.md": skill_md("a", "a")})
    cand = write(t / "cand", {"skills/renamed/SKILL.md": skill_md("renamed", "a")})
    return cand, live


def amb_two_live_matches(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"skills/a/SKILL.md": skill_md("a", "a"),
                              "skills/other/SKILL.md": skill_md("a", "also named a")})
    cand = write(t / "cand", {"skills/a/SKILL.md": skill_md("a", "new")})
    return cand, live


def amb_two_memory_onto_one(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"AGENTS.md": "a\n"})
    cand = write(t / "cand", {"CLAUDE.md": "c\n", "AGENTS.md": "a2\n"})
    return cand, live / "AGENTS.md"


def amb_extra_files_onto_skill_file(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"SKILL.md": skill_md("s", "s")})
    cand = write(t / "cand", {"skills/s/SKILL.md": skill_md("s", "new"),
                              "skills/s/references/r.md": "r\n"})
    return cand, live / "SKILL.md"


def amb_memory_into_skill_folder(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"SKILL.md": skill_md("s", "s")})
    cand = write(t / "cand", {"skills/s/SKILL.md": skill_md("s", "new"), "CLAUDE.md": "m\n"})
    return cand, live


def amb_not_a_skill_file(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"README.md": "r\n"})
    cand = write(t / "cand", {"SKILL.md": skill_md("s", "s")})
    return cand, live / "README.md"


def amb_no_live_skill(t: Path) -> tuple[Path, Path]:
    live = write(t / "live", {"README.md": "a repo, not a skill\n"})
    cand = write(t / "cand", {"skills/s/SKILL.md": skill_md("s", "s")})
    return cand, live


AMBIGUOUS = {
    "live folder holds no skill": (amb_no_live_skill, "holds no skill"),
    "two skills onto one skill folder": (amb_two_skills_onto_one, "has 2 skills .* is one skill"),
    "skill matching no live skill": (amb_unknown_skill, "'renamed' matches no live skill"),
    "two live skills of that name": (amb_two_live_matches, "'a' matches 2 live skills"),
    "two memory files onto one": (amb_two_memory_onto_one, "is one memory file"),
    "extra files onto a SKILL.md file": (amb_extra_files_onto_skill_file, "also has references"),
    "memory file into a skill folder": (amb_memory_into_skill_folder, "has none"),
    "live file is no skill file": (amb_not_a_skill_file, "is not SKILL.md, CLAUDE.md or AGENTS"),
}


@pytest.mark.parametrize("case", AMBIGUOUS)
def test_ambiguous_mapping_is_refused_in_one_line_before_staging(case: str, tmp_path: Path) -> None:
    build, match = AMBIGUOUS[case]
    cand, live = build(tmp_path)
    with pytest.raises(GateError, match=match) as err:
        stage(run_id="r", candidate="c", candidate_dir=cand, live_root=live,
              stage_dir=tmp_path / "stage")
    line = err.value.one_line()
    assert "\n" not in line and err.value.hint, line  # what is ambiguous, and what to pass
    assert not (tmp_path / "stage").exists()


# ---------------------------------------------------------------- all or nothing


def failing_nth(n: int, real: Callable[..., object]) -> Callable[..., object]:
    calls = {"n": 0}

    def replace(src: object, dst: object) -> object:
        calls["n"] += 1
        if calls["n"] == n:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    return replace


@pytest.mark.parametrize("fail_at", [1, 2, 4])
def test_a_failed_write_leaves_every_live_file_as_it_was(
    fail_at: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = skill_folder(tmp_path)
    st = tmp_path / "stage"
    before = snapshot(c.live_root)
    do_stage(c, st)
    monkeypatch.setattr(gate.fileswap, "_replace", failing_nth(fail_at, gate.fileswap._replace))
    with pytest.raises(GateError, match="could not replace .* the live files are unchanged"):
        adopt(st)
    assert snapshot(c.live_root) == before  # no half-adopted skill, no temp files, no new dirs
    assert load_manifest(st).state == "staged"
    monkeypatch.undo()
    adopt(st)
    assert (c.live_root / "SKILL.md").read_text() == c.expected["SKILL.md"]


def test_a_failed_rollback_leaves_the_adopted_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = skill_folder(tmp_path)
    st = tmp_path / "stage"
    before = snapshot(c.live_root)
    do_stage(c, st)
    adopt(st)
    adopted = snapshot(c.live_root)
    monkeypatch.setattr(gate.fileswap, "_replace", failing_nth(2, gate.fileswap._replace))
    with pytest.raises(GateError, match="the live files are unchanged"):
        rollback(st)
    assert snapshot(c.live_root) == adopted
    assert load_manifest(st).state == "adopted"
    monkeypatch.undo()
    rollback(st)
    assert snapshot(c.live_root) == before


def test_adopt_never_reports_success_when_the_files_do_not_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something between the write and the read-back changed a file: undo, and say so."""
    c = skill_folder(tmp_path)
    st = tmp_path / "stage"
    before = snapshot(c.live_root)
    do_stage(c, st)
    real = gate.fileswap._write_tmp

    def lossy(src: Path, dst: Path) -> Path:
        tmp = real(src, dst)
        if dst.name == "SKILL.md":
            tmp.write_bytes(tmp.read_bytes()[:10])
        return tmp

    monkeypatch.setattr(gate.fileswap, "_write_tmp", lossy)
    with pytest.raises(GateError, match="do not read back as written: SKILL.md"):
        adopt(st)
    assert snapshot(c.live_root) == before
    assert load_manifest(st).state == "staged"
