"""Stage / adopt / rollback on real folders, with SHA-256 pinning of the live files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.staging import adopt, load_manifest, rollback, sha256_file, stage
from harness.errors import GateError


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    live, cand, st = tmp_path / "live", tmp_path / "cand", tmp_path / "stage"
    (live / "brief").mkdir(parents=True)
    (live / "brief" / "SKILL.md").write_text("old skill\n")
    (live / "CLAUDE.md").write_text("untouched\n")
    (cand / "brief").mkdir(parents=True)
    (cand / "brief" / "SKILL.md").write_text("new skill\n")
    (cand / "brief" / "reference.md").write_text("a new file\n")
    return live, cand, st


def do_stage(live: Path, cand: Path, st: Path) -> None:
    stage(run_id="r1", candidate="cand", candidate_dir=cand, live_root=live, stage_dir=st)


def test_stage_pins_live_hashes(dirs: tuple[Path, Path, Path]) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    m = json.loads((st / "manifest.json").read_text())
    files = {f["path"]: f for f in m["files"]}
    assert files["brief/SKILL.md"]["live_sha256"] == sha256_file(live / "brief/SKILL.md")
    assert files["brief/reference.md"]["live_sha256"] is None
    assert files["brief/SKILL.md"]["candidate_sha256"] == sha256_file(cand / "brief/SKILL.md")
    assert (st / "files/brief/SKILL.md").read_text() == "new skill\n"
    assert (live / "brief/SKILL.md").read_text() == "old skill\n"  # staging never touches live
    assert m["state"] == "staged" and m["staged_at"].endswith("Z")


def test_adopt_then_rollback_restores_exactly(dirs: tuple[Path, Path, Path]) -> None:
    live, cand, st = dirs
    before = {p: sha256_file(p) for p in live.rglob("*") if p.is_file()}
    do_stage(live, cand, st)
    adopt(st)
    assert (live / "brief/SKILL.md").read_text() == "new skill\n"
    assert (live / "brief/reference.md").read_text() == "a new file\n"
    assert (st / "backup/brief/SKILL.md").read_text() == "old skill\n"
    assert load_manifest(st).state == "adopted"
    with pytest.raises(GateError, match="already adopted"):
        adopt(st)
    rollback(st)
    after = {p: sha256_file(p) for p in live.rglob("*")
             if p.is_file() and p.name != ".harness-audit.jsonl"}  # the audit log stays
    assert after == before  # the new file is gone, the old one is back byte for byte
    assert load_manifest(st).state == "rolled_back"


def test_adopt_refuses_when_live_changed_since_staging(dirs: tuple[Path, Path, Path]) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    (live / "brief/SKILL.md").write_text("hand edit\n")
    with pytest.raises(GateError, match="live files changed since staging: brief/SKILL.md"):
        adopt(st)
    assert (live / "brief/SKILL.md").read_text() == "hand edit\n"
    assert not (st / "backup").exists()


def test_adopt_refuses_when_a_new_file_appeared_live(dirs: tuple[Path, Path, Path]) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    (live / "brief/reference.md").write_text("someone added it\n")
    with pytest.raises(GateError, match="brief/reference.md"):
        adopt(st)


def test_adopt_refuses_tampered_staging(dirs: tuple[Path, Path, Path]) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    (st / "files/brief/SKILL.md").write_text("tampered\n")
    with pytest.raises(GateError, match="staged files changed"):
        adopt(st)


def test_rollback_refuses_when_live_edited_after_adopt_unless_forced(
    dirs: tuple[Path, Path, Path],
) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    adopt(st)
    (live / "brief/SKILL.md").write_text("edited after adopt\n")
    with pytest.raises(GateError, match="changed since adopt"):
        rollback(st)
    rollback(st, force=True)
    assert (live / "brief/SKILL.md").read_text() == "old skill\n"


def test_rollback_without_adopt_and_missing_manifest(
    tmp_path: Path, dirs: tuple[Path, Path, Path]
) -> None:
    live, cand, st = dirs
    do_stage(live, cand, st)
    with pytest.raises(GateError, match="not adopted"):
        rollback(st)
    with pytest.raises(GateError, match="no staging manifest"):
        adopt(tmp_path / "nowhere")


def test_stage_rejects_missing_or_empty_candidate(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="does not exist"):
        stage(
            run_id="r",
            candidate="c",
            candidate_dir=tmp_path / "x",
            live_root=tmp_path,
            stage_dir=tmp_path / "s",
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(GateError, match="no files"):
        stage(
            run_id="r",
            candidate="c",
            candidate_dir=tmp_path / "empty",
            live_root=tmp_path,
            stage_dir=tmp_path / "s",
        )
