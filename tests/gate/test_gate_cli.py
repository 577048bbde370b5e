"""The typer commands the main CLI mounts: report, stage, adopt, rollback, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import sample_trials, trial_set
from typer.testing import CliRunner

from gate.models import TrialRecord
from harness.cli.gate_cmd import app

runner = CliRunner()
SKILL = "---\nname: brief-writer\ndescription: Writes briefs.\n---\n# Brief\n"


def make_run(root: Path, trials: list[TrialRecord], *, jsonl: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if jsonl:
        (root / "trials.jsonl").write_text("\n".join(t.model_dump_json() for t in trials) + "\n")
    else:
        (root / "trials.json").write_text(
            json.dumps({"trials": [t.model_dump(mode="json") for t in trials]})
        )
    for variant, body in (("baseline", SKILL), ("candidate", SKILL + "\n## Key Risks\n")):
        (root / "variants" / variant / "brief").mkdir(parents=True, exist_ok=True)
        (root / "variants" / variant / "brief" / "SKILL.md").write_text(body)
    return root


def test_report_accept_exits_0_and_writes_four_files(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", sample_trials())
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "gate: accept (candidate)" in result.output
    for name in ("report.md", "report.json", "report.html", "junit.xml"):
        assert (run / "report" / name).is_file()


def test_report_reject_exits_1(tmp_path: Path) -> None:
    trials = [
        t.model_copy(update={"variant": "candidate"}) if t.variant == "cand" else t
        for t in trial_set(8, base_fails=0, cand_fails=0)
    ]
    run = make_run(tmp_path / "run", trials, jsonl=True)
    result = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "gate: reject" in result.output
    assert (tmp_path / "out" / "report.md").is_file()


def test_report_inconclusive_exits_2(tmp_path: Path) -> None:
    trials = [
        t.model_copy(update={"variant": "candidate"}) if t.variant == "cand" else t
        for t in trial_set(3, base_fails=1, cand_fails=0)
    ]
    records = tmp_path / "records.json"
    records.write_text(json.dumps([t.model_dump(mode="json") for t in trials]))
    result = runner.invoke(app, ["report", str(records)])
    assert result.exit_code == 2 and "too few heldout tasks" in result.output


@pytest.mark.parametrize("flag", ["--gate-policy", "--policy"])  # the name, and its old one
def test_policy_file_is_applied(tmp_path: Path, flag: str) -> None:
    trials = [
        t.model_copy(update={"variant": "candidate"}) if t.variant == "cand" else t
        for t in trial_set(3, base_fails=1, cand_fails=0, attempts=2)
    ]
    run = make_run(tmp_path / "run", trials)
    assert runner.invoke(app, ["report", str(run)]).exit_code == 2  # too few heldout tasks
    (tmp_path / "policy.json").write_text(json.dumps({"min_heldout_tasks": 3}))
    result = runner.invoke(app, ["report", str(run), flag, str(tmp_path / "policy.json")])
    assert result.exit_code == 0, result.output


def test_a_run_by_id_and_its_baseline_from_run_json(tmp_path: Path) -> None:
    """`report RUN_ID --runs-dir R` finds R/RUN_ID; the baseline is the run's first variant."""
    trials = [
        t.model_copy(update={"variant": {"cand": "skill", "baseline": "bare"}.get(t.variant, t.variant)})
        for t in trial_set(3, base_fails=1, cand_fails=0, attempts=2)
    ]
    run = make_run(tmp_path / "runs" / "20260101-000000-abcdef", trials)
    (run / "run.json").write_text(json.dumps({"variants": {"bare": "none", "skill": "/s"},
                                              "model_mode": "scripted"}))
    (tmp_path / "policy.json").write_text(json.dumps({"min_heldout_tasks": 3}))
    result = runner.invoke(app, ["report", "20260101-000000-abcdef", "--runs-dir",
                                 str(tmp_path / "runs"), "--gate-policy", str(tmp_path / "policy.json")])
    assert result.exit_code == 0 and "accept (skill)" in result.output, result.output
    assert (run / "report" / "report.md").is_file()
    result = runner.invoke(app, ["report", "nope", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "no run nope in" in result.output


def test_bad_records_exit_2_naming_each_field(tmp_path: Path) -> None:
    bad = [t.model_dump(mode="json") for t in sample_trials()[:2]]
    bad[0]["status"] = "exploded"
    bad[1]["split"] = "val"
    bad[1]["surprise"] = 1
    (tmp_path / "trials.json").write_text(json.dumps(bad))
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "3 errors" in result.output
    assert "trials[0].status" in result.output and "trials[1].split" in result.output
    assert "trials[1].surprise" in result.output


def test_leakage_is_an_error_exit_2(tmp_path: Path) -> None:
    trials = sample_trials()
    trials.append(trials[0].model_copy(update={"split": "train", "attempt": 9}))
    run = make_run(tmp_path / "run", trials)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 2 and "heldout leakage" in result.output


def test_missing_run_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_stage_adopt_rollback_round_trip(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", sample_trials())
    live = tmp_path / "live"
    (live / "brief").mkdir(parents=True)
    (live / "brief" / "SKILL.md").write_text(SKILL)

    r = runner.invoke(app, ["stage", str(run), "--live", str(live)])
    assert r.exit_code == 0, r.output
    assert "staged 1 file(s) of candidate" in r.output
    r = runner.invoke(app, ["adopt", str(run / "stage")])
    assert r.exit_code == 0, r.output
    assert "## Key Risks" in (live / "brief" / "SKILL.md").read_text()
    r = runner.invoke(app, ["rollback", str(run / "stage")])
    assert r.exit_code == 0, r.output
    assert (live / "brief" / "SKILL.md").read_text() == SKILL


def test_adopt_refuses_drift_via_cli(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", sample_trials())
    live = tmp_path / "live"
    (live / "brief").mkdir(parents=True)
    (live / "brief" / "SKILL.md").write_text(SKILL)
    assert runner.invoke(app, ["stage", str(run), "--live", str(live)]).exit_code == 0
    (live / "brief" / "SKILL.md").write_text("edited meanwhile\n")
    r = runner.invoke(app, ["adopt", str(run / "stage")])
    assert r.exit_code == 2 and "live files changed since staging" in r.output


@pytest.mark.parametrize(("cand_fails", "code"), [(1, 1)])
def test_stage_refuses_without_accept(tmp_path: Path, cand_fails: int, code: int) -> None:
    trials = [
        t.model_copy(update={"variant": "candidate"}) if t.variant == "cand" else t
        for t in trial_set(8, base_fails=1, cand_fails=cand_fails)
    ]
    run = make_run(tmp_path / "run", trials)
    r = runner.invoke(app, ["stage", str(run), "--live", str(tmp_path)])
    assert r.exit_code == code and "nothing staged" in r.output
    assert not (run / "stage").exists()
