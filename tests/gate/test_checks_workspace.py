"""Workspace checks, run through a real local exec (real files, real pytest, real sh)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from gate_helpers import LocalExec

from gate.checks import evaluate, validate_checks
from gate.checks.workspace import parse_junit, parse_pytest_summary, path_matches
from gate.models import CheckResult, TrialEvidence


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n")
    return tmp_path


def run(spec: dict[str, Any], root: Path, **kw: Any) -> CheckResult:
    assert validate_checks([spec], "t") == []
    return evaluate(spec, TrialEvidence(exec=LocalExec(root), **kw))


def test_file_exists(ws: Path) -> None:
    assert run({"op": "file_exists", "path": "src/app.py"}, ws).passed is True
    r = run({"op": "file_exists", "path": "src/missing.py"}, ws)
    assert r.passed is False and "missing" in r.reason


def test_file_contains_value_and_pattern(ws: Path) -> None:
    assert run({"op": "file_contains", "path": "src/app.py", "value": "return a + b"}, ws).passed
    assert not run({"op": "file_contains", "path": "src/app.py", "value": "RETURN"}, ws).passed
    assert run({"op": "file_contains", "path": "src/app.py", "pattern": r"^def add\("}, ws).passed


def test_file_contains_missing_file_is_a_failed_check_with_reason(ws: Path) -> None:
    r = run({"op": "file_contains", "path": "nope.txt", "value": "x"}, ws)
    assert r.passed is False and "cannot read nope.txt" in r.reason


def test_file_contains_needs_exactly_one_of_value_or_pattern() -> None:
    errs = validate_checks(
        [
            {"op": "file_contains", "path": "a"},
            {"op": "file_contains", "path": "a", "value": "x", "pattern": "y"},
        ],
        "f",
    )
    assert [e.where for e in errs] == ["f.checks[0].value", "f.checks[1].value"]


def test_command_exit_codes(ws: Path) -> None:
    assert run({"op": "command", "cmd": "test -f src/app.py"}, ws).passed is True
    r = run({"op": "command", "cmd": ["sh", "-c", "echo boom >&2; exit 3"]}, ws)
    assert r.passed is False and "exit 3" in r.reason and "boom" in r.reason
    assert run({"op": "command", "cmd": "exit 3", "expect_exit": 3}, ws).passed is True


def test_command_not_found_is_a_failed_check(ws: Path) -> None:
    r = run({"op": "command", "cmd": ["definitely-not-a-command-xyz"]}, ws)
    assert r.passed is False and "command not found" in r.reason
    r = run({"op": "command", "cmd": "definitely-not-a-command-xyz --flag"}, ws)
    assert r.passed is False and "command not found" in r.reason


def test_command_timeout_fails(ws: Path) -> None:
    r = run({"op": "command", "cmd": "sleep 5", "timeout_sec": 0.3}, ws)
    assert r.passed is False and "124" in r.reason


def test_no_sandbox_or_broken_sandbox_is_unscorable(ws: Path) -> None:
    r = evaluate({"op": "command", "cmd": "true"}, TrialEvidence())
    assert r.passed is None and "no sandbox" in r.reason

    def broken(cmd: list[str], timeout_sec: float) -> tuple[int, str, str]:
        raise ConnectionError("container vanished")

    r = evaluate({"op": "file_exists", "path": "x"}, TrialEvidence(exec=broken))
    assert r.passed is None and "container vanished" in r.reason


def _write_tests(ws: Path, body: str) -> None:
    (ws / "test_app.py").write_text(
        "import sys\nsys.path.insert(0, 'src')\nfrom app import add\n" + body
    )


PY = sys.executable


def test_tests_pytest_all_pass(ws: Path) -> None:
    _write_tests(
        ws, "def test_a():\n    assert add(1, 2) == 3\n\ndef test_b():\n    assert add(0, 0) == 0\n"
    )
    r = run(
        {"op": "tests", "cmd": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"]},
        ws,
    )
    assert r.passed is True and r.reason.startswith("2 passed")


def test_tests_pytest_one_failure_fails(ws: Path) -> None:
    _write_tests(
        ws, "def test_a():\n    assert add(1, 2) == 3\n\ndef test_b():\n    assert add(1, 1) == 3\n"
    )
    r = run(
        {"op": "tests", "cmd": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"]},
        ws,
    )
    assert r.passed is False and r.score == pytest.approx(0.5) and "1 failed" in r.reason


def test_tests_junit(ws: Path) -> None:
    _write_tests(
        ws, "def test_a():\n    assert add(1, 2) == 3\n\ndef test_b():\n    assert add(1, 1) == 3\n"
    )
    spec = {
        "op": "tests",
        "format": "junit",
        "junit_path": "out/junit.xml",
        "cmd": [
            PY,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=out/junit.xml",
            "test_app.py",
        ],
    }
    r = run(spec, ws)
    assert r.passed is False and "1 passed, 1 failed" in r.reason


def test_tests_junit_missing_report_fails(ws: Path) -> None:
    r = run({"op": "tests", "format": "junit", "junit_path": "none.xml", "cmd": "true"}, ws)
    assert r.passed is False and "no JUnit report" in r.reason


def test_tests_no_summary_fails(ws: Path) -> None:
    r = run({"op": "tests", "cmd": "echo hello"}, ws)
    assert r.passed is False and "no pytest summary" in r.reason


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("==== 3 passed, 1 failed in 0.12s ====", {"passed": 3, "failed": 1}),
        ("2 passed, 1 error in 1.00s", {"passed": 2, "errors": 1}),
        (
            "===== 5 passed, 2 skipped, 1 warning in 3.21s =====",
            {"passed": 5, "skipped": 2, "warnings": 1},
        ),
        ("============ no tests ran in 0.01s ============", {}),
    ],
)
def test_parse_pytest_summary(line: str, want: dict[str, int]) -> None:
    assert parse_pytest_summary("collected\n" + line + "\n") == want


def test_parse_pytest_summary_strips_colour_codes() -> None:
    line = "\x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m4 passed\x1b[0m\x1b[31m in 0.20s\x1b[0m"
    assert parse_pytest_summary(line) == {"failed": 1, "passed": 4}


def test_parse_pytest_summary_uses_the_last_line() -> None:
    out = "1 passed in 0.1s\nrerun...\n1 failed in 0.1s\n"
    assert parse_pytest_summary(out) == {"failed": 1}


def test_parse_junit_counts_cases() -> None:
    xml = """<testsuites><testsuite><testcase name="a"/><testcase name="b"><failure/></testcase>
    <testcase name="c"><error/></testcase><testcase name="d"><skipped/></testcase></testsuite>
    </testsuites>"""
    assert parse_junit(xml) == {"tests": 4, "passed": 1, "failed": 1, "errors": 1, "skipped": 1}


def test_tests_format_validation() -> None:
    errs = validate_checks(
        [
            {"op": "tests", "cmd": "x", "format": "tap"},
            {"op": "tests", "cmd": "x", "format": "junit"},
        ],
        "f",
    )
    assert [e.where for e in errs] == ["f.checks[0].format", "f.checks[1].junit_path"]


@pytest.mark.parametrize(
    ("path", "glob", "ok"),
    [
        ("src/app.py", "src/*.py", True),
        ("src/pkg/app.py", "src/*.py", False),
        ("src/pkg/app.py", "src/**/*.py", True),
        ("src/app.py", "src/**/*.py", True),
        ("src/pkg/app.py", "src/", True),
        ("src/pkg/app.py", "src", True),
        ("srcx/app.py", "src", False),
        ("./README.md", "README.md", True),
        ("docs/a.md", "**/*.md", True),
    ],
)
def test_glob_semantics(path: str, glob: str, ok: bool) -> None:
    assert path_matches(path, glob) is ok


def test_diff_touches_every_glob(ws: Path) -> None:
    changed = ("src/app.py", "tests/test_app.py")
    ev = TrialEvidence(changed_paths=changed, diff="...")
    assert evaluate({"op": "diff_touches", "paths": ["src/*.py", "tests/"]}, ev).passed is True
    r = evaluate({"op": "diff_touches", "paths": ["src/*.py", "docs/**"]}, ev)
    assert r.passed is False and "docs/**" in r.reason


def test_diff_not_touches(ws: Path) -> None:
    ev = TrialEvidence(changed_paths=("src/app.py", "tests/test_app.py"))
    assert evaluate({"op": "diff_not_touches", "paths": ["tests/**"]}, ev).passed is False
    assert (
        evaluate({"op": "diff_not_touches", "paths": [".github/**", "*.lock"]}, ev).passed is True
    )


def test_exec_timeout_exception_is_a_failed_check_not_unscorable() -> None:
    from harness.errors import ExecTimeout

    def slow(cmd: list[str], timeout_sec: float) -> tuple[int, str, str]:
        raise ExecTimeout(f"{cmd[0]} ran past {timeout_sec}s")

    r = evaluate({"op": "command", "cmd": ["make"], "timeout_sec": 2}, TrialEvidence(exec=slow))
    assert r.passed is False and "124" in r.reason and "ran past 2" in r.reason
