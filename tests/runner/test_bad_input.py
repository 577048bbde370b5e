"""`harness run` rejects bad input in one line each, before any container starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tasks" / "examples"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--agent", "gemini"], "unknown agent 'gemini'"),
        (["--variant", "baseline=/no/such/skill"], "does not exist"),
        (["--variant", "nonsense"], "must be NAME=PATH"),
        (["--model", "replay"], "needs --cassette"),
        (["--model", "live"], "needs the real API key"),
        (["--model", "telepathy"], "--model 'telepathy' unknown"),
        (["--gate-policy", "/no/such.yaml"], "cannot read policy"),
    ],
)
def test_one_line_errors(tmp_path: Path, args: list[str], expect: str) -> None:
    r = harness("run", str(DEMO), "--runs-dir", str(tmp_path / "runs"), *args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and expect in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_broken_suite_lists_every_error_with_its_place(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "a.yaml").write_text("schema: harness.task/v1\nid: a\nprompt: hi\nchecks:\n  - {op: regex, pattern: '('}\n")
    (suite / "b.yaml").write_text("schema: harness.task/v1\nid: b\nprompt: hi\ntimeout_sec: -1\nbogus: 1\n")
    r = harness("run", str(suite), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2
    assert "a.yaml:5" in r.stderr and "b.yaml:4" in r.stderr and "b.yaml:5" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    r = harness("--debug", "run", str(DEMO), "--agent", "gemini", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr
