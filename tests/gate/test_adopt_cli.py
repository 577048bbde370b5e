"""Stage / adopt / rollback on the real gbrain-evals skillopt-v1 seeds, and through `harness`.

The seeds are read in place from ../shared/fixtures; each test copies one into its tmp dir as
the live skill (adopt writes there, never into the fixtures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gate_helpers import sample_trials
from skill_trees import as_run_stores_it, snapshot

from gate.staging import adopt, load_manifest, rollback, stage
from harness.errors import GateError

REPO = Path(__file__).resolve().parents[2]
SEEDS = ("seed-verbose", "seed-no-verdict", "seed-missing-structure", "seed-no-brain-first")


def seed(shared_fixtures: Path, name: str) -> Path:
    return shared_fixtures / "gbrain-evals" / "skillopt-v1" / name


def improved_copy(src: Path, dest: Path) -> Path:
    """The seed folder with an edited SKILL.md and a new references/ file: a candidate."""
    shutil.copytree(src, dest)
    skill = dest / "SKILL.md"
    skill.write_text(skill.read_text() + "\n## Verdict\nEnd with one line: the verdict.\n")
    (dest / "references").mkdir()
    (dest / "references" / "verdicts.md").write_text("Good verdicts are one line.\n")
    return dest


@pytest.mark.parametrize("name", SEEDS)
def test_adopt_onto_a_gbrain_seed_folder(name: str, shared_fixtures: Path, tmp_path: Path) -> None:
    original = seed(shared_fixtures, name)
    live = shutil.copytree(original, tmp_path / "live")
    cand_src = improved_copy(original, tmp_path / "src")
    cand = as_run_stores_it(cand_src, tmp_path / "run" / "variants" / "candidate")
    st = tmp_path / "stage"
    stage(run_id="r", candidate="candidate", candidate_dir=cand, live_root=live, stage_dir=st)
    changed = {f.path: f.action for f in load_manifest(st).changes()}
    assert changed == {"SKILL.md": "replace", "references/verdicts.md": "create"}

    adopt(st)
    assert (live / "SKILL.md").read_bytes() == (cand_src / "SKILL.md").read_bytes()
    assert (live / "references/verdicts.md").read_bytes() == b"Good verdicts are one line.\n"
    assert not (live / "skills").exists()
    rollback(st)
    assert snapshot(live) == snapshot(original)


def test_drift_on_a_gbrain_seed_is_refused(shared_fixtures: Path, tmp_path: Path) -> None:
    original = seed(shared_fixtures, "seed-verbose")
    live = shutil.copytree(original, tmp_path / "live")
    cand = as_run_stores_it(improved_copy(original, tmp_path / "src"), tmp_path / "cand")
    st = tmp_path / "stage"
    stage(run_id="r", candidate="candidate", candidate_dir=cand, live_root=live, stage_dir=st)
    (live / "SKILL.md").write_text("edited by hand after staging\n")
    with pytest.raises(GateError, match="live files changed since staging: SKILL.md"):
        adopt(st)
    assert (live / "SKILL.md").read_text() == "edited by hand after staging\n"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_stage_adopt_rollback_through_the_harness_cli(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    original = seed(shared_fixtures, "seed-no-brain-first")
    live = shutil.copytree(original, tmp_path / "live")
    run = tmp_path / "run"
    run.mkdir()
    (run / "trials.json").write_text(
        json.dumps({"trials": [t.model_dump(mode="json") for t in sample_trials()]}))
    as_run_stores_it(original, run / "variants" / "baseline")
    cand_src = improved_copy(original, tmp_path / "src")
    as_run_stores_it(cand_src, run / "variants" / "candidate")

    r = harness("stage", str(run), "--live", str(live), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(one skill folder)" in r.stdout
    assert "replace   SKILL.md  <- skills/" in r.stdout
    assert snapshot(live) == snapshot(original)

    r = harness("adopt", str(run / "stage"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 file(s) changed" in r.stdout
    assert "replaced SKILL.md" in r.stdout and "created references/verdicts.md" in r.stdout
    assert (live / "SKILL.md").read_bytes() == (cand_src / "SKILL.md").read_bytes()

    r = harness("adopt", str(run / "stage"), cwd=tmp_path)
    assert r.returncode == 2 and "already adopted" in r.stderr

    r = harness("rollback", str(run / "stage"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "removed references/verdicts.md" in r.stdout
    assert snapshot(live) == snapshot(original)

    r = harness("stage", str(run), "--live", str(live / "benchmark.jsonl"), cwd=tmp_path)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert err.count("\n") == 0 and "is not SKILL.md, CLAUDE.md or AGENTS.md" in err, err
