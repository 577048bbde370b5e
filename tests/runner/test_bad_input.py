"""`harness run` rejects bad input in one line each, before any container starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tasks" / "examples"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI of this checkout, with an engine address that leads nowhere: input that is
    rejected before anything starts never notices."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(REPO),
           "DOCKER_HOST": f"unix://{cwd}/no-engine.sock"}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env=env, check=False)


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--agent", "nosuch-agent"], "unknown agent 'nosuch-agent'"),
        (["--variant", "baseline=/no/such/skill"], "does not exist"),
        (["--variant", "nonsense"], "must be NAME=PATH"),
        (["--model", "replay"], "needs --cassette"),
        (["--model", "live"], "needs the real API key"),
        (["--model", "telepathy"], "--model-mode 'telepathy' unknown"),
        (["--model-mode", "replay"], "needs --cassette"),
        (["--model-mode", "live", "--model", "replay"], "--model-mode live and --model replay disagree"),
        (["--gate-policy", "/no/such.yaml"], "cannot read policy"),
        (["--policy", "/no/such.yaml"], "cannot read policy"),
        (["--script", "/no/such.yaml"], "--script /no/such.yaml: no such file"),
        (["--budget-tokens", "-1"], "--budget-tokens: Input should be greater than or equal to 0"),
        (["--timeout", "0"], "--timeout must be a number of seconds > 0, got 0"),
        (["--timeout", "-5"], "--timeout must be a number of seconds > 0, got -5"),
        (["--timeout", "nan"], "--timeout must be a number of seconds > 0, got nan"),
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
    r = harness("--debug", "run", str(DEMO), "--agent", "nosuch-agent", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr


BAD_POLICY = """version: 1
rules:
  - name: greet
    match: {usr: hello, user: "(unclosed"}
    reply: {text: hi}
  - match: {turn: "[", tool_result: ""}
    reply: {txt: done}
default: {text: ok, colour: red}
"""


def _suite_with_bad_policies(tmp_path: Path) -> Path:
    """Two tasks share a broken policy file; a third has a broken inline one."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "policy.yaml").write_text(BAD_POLICY)
    for tid in ("a", "b"):
        (suite / f"{tid}.yaml").write_text(f"schema: harness.task/v1\nid: {tid}\nprompt: hi\npolicy: policy.yaml\n")
    (suite / "c.yaml").write_text("schema: harness.task/v1\nid: c\nprompt: hi\npolicy:\n  rules:\n"
                                  "    - match: {system: '[a-'}\n      reply: {shell: ls, fault: 1}\n")
    return suite


EXPECTED_POLICY_ERRORS = [
    "suite/c.yaml:6: c.policy.rules.0.match.system: bad regex '[a-'",
    "suite/c.yaml:7: c.policy.rules.0.reply.fault: unknown field 'fault'",
    "suite/policy.yaml:4: rules.0.match.user: bad regex '(unclosed'",
    "suite/policy.yaml:4: rules.0.match.usr: unknown field 'usr'",
    "suite/policy.yaml:6: rules.1.match.turn: bad regex '['",
    "suite/policy.yaml:7: rules.1.reply.txt: unknown field 'txt'",
    "suite/policy.yaml:8: default.colour: unknown field 'colour'",
]


def test_tasks_validate_checks_the_scripted_models_rules(tmp_path: Path) -> None:
    """Every error of every policy at once, each with its file, line and field, a shared
    file's errors once."""
    _suite_with_bad_policies(tmp_path)
    r = harness("tasks", "validate", "suite", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == len(EXPECTED_POLICY_ERRORS) + 1, r.stderr
    for line, want in zip(lines, EXPECTED_POLICY_ERRORS, strict=False):
        assert line.startswith(want), (line, want)
    assert lines[-1].startswith("error: suite suite: 7 errors")


def test_run_rejects_bad_policies_before_anything_starts(tmp_path: Path) -> None:
    _suite_with_bad_policies(tmp_path)
    r = harness("run", "suite", "--variant", "baseline=none", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    for want in EXPECTED_POLICY_ERRORS:
        assert want in r.stderr, (want, r.stderr)
    assert "engine" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*/run.json"))


def test_script_flag_rules_are_checked_before_anything_starts(tmp_path: Path) -> None:
    """`--script FILE` gives every task the scripted model's rules; broken ones are named
    with their lines, as a task's own `script:` would be."""
    (tmp_path / "rules.yaml").write_text(BAD_POLICY)
    r = harness("run", str(DEMO), "--script", "rules.yaml", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--script rules.yaml has 5 error(s)" in r.stderr, r.stderr
    assert "rules.yaml:4: rules.0.match.user: bad regex '(unclosed'" in r.stderr
    assert "Traceback" not in r.stderr and not any((tmp_path / "runs").glob("*/run.json"))
