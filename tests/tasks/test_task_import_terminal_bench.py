"""Terminal-Bench and Harbor importers on this repo's own fixtures (tasks/fixtures/).

The oracle tests run the fixture's solution script and its hidden tests on the host (the
task's workdir redirected with TASK_WORKDIR): the oracle passes, doing nothing fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.tasks import Task, load_suite
from harness.tasks.importers.terminal_bench import (
    import_terminal_bench,
    rewrite_from,
    workdir_of,
)

FIXTURES = Path(__file__).resolve().parents[2] / "tasks" / "fixtures"
TB = FIXTURES / "terminal-bench"
HARBOR = FIXTURES / "harbor"
VENV_BIN = str(Path(sys.executable).parent)


def test_import_terminal_bench_task(tmp_path: Path) -> None:
    result = import_terminal_bench(TB / "hello-file", tmp_path / "out")
    [suite] = result.suites
    task = suite.get("hello-file")
    assert task.prompt_turns()[0].startswith("In /app, create a file named greeting.txt")
    assert task.timeout_sec == 180
    assert set(task.tags) >= {"file-operations", "difficulty:easy", "category:file-operations"}
    out = tmp_path / "out/hello-file"
    assert task.resolve(task.dockerfile or "") == (out / "environment/Dockerfile").resolve()
    assert (out / "environment/Dockerfile").read_text() == (TB / "hello-file/Dockerfile").read_text()
    assert not (out / "environment/docker-compose.yaml").exists()
    assert (out / "tests/test_outputs.py").is_file() and (out / "tests/run-tests.sh").is_file()
    assert task.oracle_script() == (TB / "hello-file/solution.sh").read_text()
    assert task.tests is not None and task.tests.timeout_sec == 60
    assert task.checks == []  # the runner adds the tests check from task.tests
    assert "run-tests.sh" in task.tests.cmd and task.tests.cmd.startswith("cd /app && ")
    assert task.tests.offline_cmd is not None and "run-tests.sh" not in task.tests.offline_cmd
    assert task.meta["workdir"] == "/app"
    env = task.environment_source()
    assert env is not None and env.image is None
    assert env.dockerfile == (out / "environment/Dockerfile").resolve()
    assert env.context == (out / "environment").resolve()
    assert task.tests_source() == (out / "tests").resolve()
    assert load_suite(tmp_path / "out").ids == ["hello-file"]


def test_base_image_and_offline_tests(tmp_path: Path) -> None:
    result = import_terminal_bench(TB, tmp_path / "out", base_image="harness/base:latest",
                                   offline_tests=True)
    task = result.suites[0].get("hello-file")
    dockerfile = (tmp_path / "out/hello-file/environment/Dockerfile").read_text()
    assert dockerfile.splitlines()[0] == "FROM harness/base:latest"
    assert "WORKDIR /app" in dockerfile
    assert task.tests is not None and task.tests.cmd == task.tests.offline_cmd
    assert "pytest /tests/test_outputs.py" in task.tests.cmd
    assert any("harness/base:latest" in n for n in result.notes)


def _run_offline(task: Task, app: Path) -> tuple[int, dict[str, int] | None]:
    """The task's offline tests command as the runner runs it, with paths moved to the host."""
    from gate.checks.workspace import parse_pytest_summary

    assert task.tests is not None and task.tests.offline_cmd is not None
    cmd = (task.tests.offline_cmd.replace(task.tests.test_dir, str(task.tests_source()))
           .replace("cd /app", f"cd {app}"))
    env = {**os.environ, "TASK_WORKDIR": str(app), "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-c", f"export TEST_DIR={task.tests_source()}; {cmd}"], env=env,
                       capture_output=True, text=True, check=False, timeout=120)
    return r.returncode, parse_pytest_summary(r.stdout + r.stderr)


def test_oracle_passes_and_noop_fails(tmp_path: Path) -> None:
    task = import_terminal_bench(TB, tmp_path / "out").suites[0].get("hello-file")
    app = tmp_path / "app"
    app.mkdir()
    assert _run_offline(task, app) == (1, {"failed": 2})  # nothing done: tests fail
    oracle = task.oracle_script() or ""
    subprocess.run(["bash", "-c", oracle], env={**os.environ, "TASK_WORKDIR": str(app)},
                   check=True, timeout=30)
    assert (app / "greeting.txt").read_text() == "Hello, harness!\n"
    assert _run_offline(task, app) == (0, {"passed": 2})


def test_harbor_layout(tmp_path: Path) -> None:
    task = import_terminal_bench(HARBOR, tmp_path / "out").suites[0].get("hello-file")
    assert task.meta["source"] == "harbor"
    assert task.prompt_turns()[0].startswith("In /app, create a file named greeting.txt")
    assert (task.timeout_sec, task.tests.timeout_sec if task.tests else 0) == (180, 60)
    assert task.tests is not None and "reward.txt" in task.tests.cmd and task.checks == []
    assert task.oracle == "solution/solve.sh"
    offline = import_terminal_bench(HARBOR, tmp_path / "o2", offline_tests=True
                                    ).suites[0].get("hello-file")
    assert offline.tests is not None and offline.tests.cmd == offline.tests.offline_cmd


def test_harbor_reward_becomes_a_pytest_summary(tmp_path: Path) -> None:
    """The tests command, run as the runner would (paths moved to the host), ends with a
    summary line the gate's pytest parser reads: passed for the oracle, failed for a no-op."""
    from gate.checks.workspace import parse_pytest_summary

    task = import_terminal_bench(HARBOR, tmp_path / "out").suites[0].get("hello-file")
    assert task.tests is not None
    tests_dir = task.tests_source()
    app, logs = tmp_path / "app", tmp_path / "logs"
    app.mkdir()
    cmd = (task.tests.cmd.replace("/logs/verifier", str(logs))
           .replace(task.tests.test_dir, str(tests_dir)).replace("cd /app", f"cd {app}"))
    env = {**os.environ, "TASK_WORKDIR": str(app), "VERIFIER_LOGS_DIR": str(logs),
           "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}

    def run() -> tuple[int, dict[str, int] | None]:
        r = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True,
                           timeout=120, check=False)
        return r.returncode, parse_pytest_summary(r.stdout + r.stderr)

    code, counts = run()
    assert code == 1 and counts == {"failed": 1}
    subprocess.run(["bash", "-c", task.oracle_script() or ""], env=env, check=True, timeout=30)
    code, counts = run()
    assert code == 0 and counts == {"passed": 1}


def test_harbor_oracle_writes_reward(tmp_path: Path) -> None:
    task = import_terminal_bench(HARBOR, tmp_path / "out").suites[0].get("hello-file")
    test_sh = task.resolve("tests/test.sh")
    app, logs = tmp_path / "app", tmp_path / "logs"
    app.mkdir()
    env = {**os.environ, "TASK_WORKDIR": str(app), "VERIFIER_LOGS_DIR": str(logs),
           "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(test_sh)], env=env, capture_output=True, check=True, timeout=120)
    assert (logs / "reward.txt").read_text().strip() == "0"
    subprocess.run(["bash", "-c", task.oracle_script() or ""], env=env, check=True, timeout=30)
    subprocess.run(["bash", str(test_sh)], env=env, capture_output=True, check=True, timeout=120)
    assert (logs / "reward.txt").read_text().strip() == "1"


def test_rewrite_from_keeps_stages_and_flags() -> None:
    text = ("FROM --platform=linux/amd64 golang:1.22 AS build\nRUN make\n"
            "FROM build AS test\nFROM python:3.12-slim\nCOPY --from=build /x /x\n")
    out = rewrite_from(text, "local/img:1")
    assert out.splitlines() == [
        "FROM --platform=linux/amd64 local/img:1 AS build", "RUN make",
        "FROM build AS test", "FROM local/img:1", "COPY --from=build /x /x"]


def test_workdir_of() -> None:
    assert workdir_of("FROM x\nWORKDIR /src\nRUN a\nWORKDIR /app/sub\n") == "/app/sub"
    assert workdir_of("FROM x\n") == "/app"


def test_old_descriptions_form_and_missing_parts(tmp_path: Path) -> None:
    src = tmp_path / "src" / "old-task"
    (src / "tests").mkdir(parents=True)
    (src / "task.yaml").write_text("descriptions:\n  - key: base\n    description: Do the thing\n")
    (src / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    task = import_terminal_bench(src, tmp_path / "out").suites[0].get("old-task")
    assert task.prompt_turns() == ["Do the thing"] and task.oracle is None
    assert task.tests is not None and task.tests.offline_cmd is not None
    assert task.tests.offline_cmd.endswith("python3 -m pytest /tests -rA")
    with pytest.raises(ConfigError, match="no Terminal-Bench"):
        import_terminal_bench(tmp_path / "out" / "old-task" / "tests", tmp_path / "o3")
