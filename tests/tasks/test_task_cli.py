"""``harness tasks validate|import`` through typer's runner: exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli.tasks_cmd import app

FIXTURES = Path(__file__).resolve().parents[2] / "tasks" / "fixtures"
runner = CliRunner()


def test_validate_ok_and_json(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("- id: a\n  prompt: p\n- id: b\n  prompt: q\n  split: heldout\n")
    r = runner.invoke(app, ["validate", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"ok: suite {tmp_path.name}: 2 tasks (train 1, heldout 1, frozen 0)"
    r = runner.invoke(app, ["validate", str(tmp_path), "--json"])
    data = json.loads(r.output)
    assert data["ok"] is True and data["ids"] == ["a", "b"] and data["splits"]["heldout"] == 1


def test_validate_errors_one_per_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("id: a\nprompt: p\nchecks:\n  - op: nope\n")
    (tmp_path / "u.yaml").write_text("id: a\nturns: []\n")
    r = runner.invoke(app, ["validate", str(tmp_path)])
    assert r.exit_code == 1
    out = r.output.strip().splitlines()
    assert out[0].startswith(f"{tmp_path}/t.yaml:4: a.checks[0].op: ")
    assert out[1].startswith(f"{tmp_path}/u.yaml:1: duplicate task id 'a'")
    assert out[2].startswith(f"{tmp_path}/u.yaml:2: a.turns")
    assert out[-1].startswith("error: suite ") and "3 errors" in out[-1]
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["validate", str(tmp_path), "--json"])
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["ok"] is False and len(data["errors"]) == 3
    assert data["errors"][0]["where"] == f"{tmp_path}/t.yaml:4"


def test_validate_missing_path(tmp_path: Path) -> None:
    r = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert r.exit_code == 1 and r.output.strip() == f"error: suite path {tmp_path}/nope does not exist"


def test_import_each_kind(tmp_path: Path, shared_fixtures: Path) -> None:
    cases = [
        ("skillopt-sleep", shared_fixtures / "skillopt-sleep/wiki-tasks.json", []),
        ("gbrain", shared_fixtures / "gbrain-evals/skillopt-v1/seed-verbose", []),
        ("terminal-bench", FIXTURES / "terminal-bench", ["--offline-tests",
                                                         "--base-image", "img:1"]),
    ]
    for kind, src, extra in cases:
        dest = tmp_path / kind
        r = runner.invoke(app, ["import", kind, str(src), str(dest), *extra])
        assert r.exit_code == 0, r.output
        assert r.output.startswith(f"wrote {dest.resolve()}")
        assert runner.invoke(app, ["validate", str(dest)]).exit_code == 0
    r = runner.invoke(app, ["import", "gbrain", str(cases[1][1]), str(tmp_path / "j"), "--json"])
    data = json.loads(r.output)
    assert data["suites"][0]["splits"] == {"train": 15, "heldout": 6, "frozen": 0}


def test_import_errors_are_one_line(tmp_path: Path, shared_fixtures: Path) -> None:
    r = runner.invoke(app, ["import", "nope", str(tmp_path), str(tmp_path / "o")])
    assert r.exit_code == 1
    assert r.output.strip() == ("error: unknown import kind 'nope' "
                                "(known: gbrain, skillopt-sleep, terminal-bench)")
    r = runner.invoke(app, ["import", "gbrain", str(tmp_path), str(tmp_path / "o"),
                            "--base-image", "x"])
    assert r.output.strip() == "error: --base-image does not apply to gbrain"
    r = runner.invoke(app, ["import", "gbrain", str(tmp_path / "missing"), str(tmp_path / "o")])
    assert r.exit_code == 1 and "does not exist" in r.output
    (tmp_path / "bad.json").write_text('{"format": "skillopt_sleep.tasks.v1", "reviewed": false,'
                                       ' "tasks": []}')
    r = runner.invoke(app, ["import", "skillopt-sleep", str(tmp_path / "bad.json"),
                            str(tmp_path / "o"), "--require-reviewed"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert "reviewed" in r.output
