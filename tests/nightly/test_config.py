"""``nightly.yaml`` is checked whole before anything runs: every problem at once, each with
its field path, relative paths against the config's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ValidationFailed
from harness.nightly.config import load_config
from tests.nightly.helpers import SKILL_OLD, nightly_cli, write_config, write_skill


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    write_skill(proj, SKILL_OLD)
    (proj / "CLAUDE.md").write_text("# Project notes\n")
    (tmp_path / "script.yaml").write_text("version: 1\nrules: []\n")
    return proj


def test_a_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    _project(tmp_path)
    cand = tmp_path / "cands" / "one"
    cand.mkdir(parents=True)
    f = write_config(tmp_path / "nightly.yaml", project="proj",
                     targets=[".claude/skills/calc", "CLAUDE.md"], agents=["claude"], trials=2,
                     model={"mode": "scripted", "script": "script.yaml"},
                     budgets={"tokens": 1000, "wall_minutes": 5},
                     gate_policy={"min_heldout_tasks": 1},
                     candidates={"folders": ["cands/one"], "git_refs": ["main"]},
                     adopt="auto", runs_dir="runs")
    cfg = load_config(f)
    assert cfg.project == (tmp_path / "proj").resolve()
    assert cfg.candidates.folders == [cand.resolve()]
    assert cfg.model.script == (tmp_path / "script.yaml").resolve()
    assert cfg.runs_dir == (tmp_path / "runs").resolve()
    assert cfg.adopt == "auto" and cfg.gate_policy == {"min_heldout_tasks": 1}


def test_every_error_at_once_with_its_field(tmp_path: Path) -> None:
    _project(tmp_path)
    f = write_config(tmp_path / "nightly.yaml", project="proj",
                     targets=[".claude/skills/calc", "AGENTS.md", "../outside/CLAUDE.md"],
                     agents=["claude", "nobody"], trials=0,
                     model={"mode": "scripted", "script": "script.yaml"},
                     budgets={"tokens": 0, "wall_minutes": 0},
                     gate_policy={"min_lift": "much"}, adopt="always", colour="blue")
    with pytest.raises(ValidationFailed) as ei:
        load_config(f)
    got = {e.where: e.message for e in ei.value.errors}
    assert got["colour"] == "unknown field"
    assert "budgets.tokens" in got and "budgets.wall_minutes" in got
    assert "trials" in got and "adopt" in got
    assert "gate_policy.min_lift" in got
    # checks pydantic cannot make are reported beside its own errors, not after a fix
    assert "does not exist" in got["targets[1]"]
    assert "inside the project" in got["targets[2]"]


def test_semantic_errors_all_at_once(tmp_path: Path) -> None:
    _project(tmp_path)
    f = write_config(tmp_path / "nightly.yaml", project="proj",
                     targets=["missing/SKILL.md", "CLAUDE.md"], agents=["claude", "nobody"],
                     model={"mode": "replay"}, frozen_suite="nope",
                     candidates={"folders": ["nofolder"], "git_refs": ["--evil"]},
                     sources={"since": "yesterday-ish", "codex_home": "nohome"})
    with pytest.raises(ValidationFailed) as ei:
        load_config(f)
    got = {e.where: e.message for e in ei.value.errors}
    assert set(got) >= {"targets[0]", "agents[1]", "model.cassette", "frozen_suite",
                        "candidates.folders[0]", "candidates.git_refs[0]", "sources.since",
                        "sources.codex_home"}, got


def test_the_cli_prints_one_line_then_each_error(tmp_path: Path) -> None:
    _project(tmp_path)
    f = write_config(tmp_path / "nightly.yaml", project="proj", targets=["NOPE.md"],
                     budgets={"tokens": 0}, extra_field=1)
    r = nightly_cli("--config", str(f))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: nightly config") and "3 errors" in lines[0], lines
    assert any("extra_field: unknown field" in ln for ln in lines)
    assert any("budgets.tokens" in ln for ln in lines)
    assert any("targets[0]" in ln for ln in lines)
    assert "Traceback" not in r.stderr
