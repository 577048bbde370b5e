"""Import Terminal-Bench task folders (and Harbor's newer layout) as a harness suite.

Terminal-Bench folder: ``task.yaml`` (instruction, timeouts, tags), ``Dockerfile``,
``run-tests.sh``, ``tests/test_outputs.py``, ``solution.sh``. Harbor folder:
``task.toml``, ``instruction.md``, ``environment/Dockerfile``, ``tests/test.sh`` (writes
``/logs/verifier/reward.txt``), ``solution/solve.sh``. Each becomes ``DEST/<name>/``::

    task.yaml          the harness.task/v1 task
    environment/       build context: Dockerfile (FROM rewritten by --base-image) + files
    tests/             hidden tests (+ run-tests.sh), copied to /tests only at check time
    solution.sh        the oracle the harness can type into the pane (Harbor: solution/)

The hidden tests are not a ``checks`` entry: the runner copies ``tests.dir`` in after the
agent is done and adds the ``tests`` check itself from ``tests.cmd`` (or ``offline_cmd``
when the run asks for offline tests), so the agent never sees them.

Why the two knobs: task Dockerfiles name public base images and many ``run-tests.sh``
download an installer first; a user without internet needs ``base_image`` (an image they
have) and ``offline_tests`` (run pytest with what the image has).
"""

from __future__ import annotations

import math
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.tasks.importers.common import ImportResult, dump_yaml, ordered_task, prepare_dest
from harness.tasks.loader import load_suite
from harness.tasks.schema import SUITE_SCHEMA_ID

TEST_DIR = "/tests"
_TB_SKIP = {"task.yaml", "tests", "run-tests.sh", "solution.sh", "solution.yaml",
            "docker-compose.yaml", "docker-compose.yml"}


_FROM = re.compile(r"(?i)^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(\s+AS\s+(\S+))?(.*)$")


def is_task_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "task.yaml").is_file() or (path / "task.toml").is_file())


def rewrite_from(dockerfile: str, image: str) -> str:
    """Replace the base image of every ``FROM`` that is not an earlier build stage."""
    stages: set[str] = set()
    out = []
    for line in dockerfile.splitlines(keepends=True):
        m = _FROM.match(line.rstrip("\n"))
        if m:
            if m.group(3) not in stages:
                line = f"{m.group(1)}{m.group(2)}{image}{m.group(4) or ''}{m.group(6)}\n"
            if m.group(5):
                stages.add(m.group(5))
        out.append(line)
    return "".join(out)


def workdir_of(dockerfile: str) -> str:
    """The last ``WORKDIR`` (where the agent and the tests start), ``/app`` by default."""
    dirs = re.findall(r"(?im)^\s*WORKDIR\s+(\S+)", dockerfile)
    return dirs[-1] if dirs else "/app"


def _instruction(meta: dict[str, Any], src: Path) -> str:
    text = meta.get("instruction")
    if not text and isinstance(meta.get("descriptions"), list):  # older task.yaml form
        base = [d for d in meta["descriptions"] if isinstance(d, dict)
                and d.get("key", "base") == "base"]
        text = base[0].get("description") if base else None
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{src}/task.yaml has no instruction")
    return text


def _tags(meta: dict[str, Any]) -> list[str]:
    tags = [str(t) for t in meta.get("tags") or []]
    for key in ("difficulty", "category"):
        if meta.get(key):
            tags.append(f"{key}:{meta[key]}")
    return tags


def _write_environment(src_env: Path, dest_env: Path, skip: set[str],
                       base_image: str | None) -> str:
    """Copy the build context, rewriting the Dockerfile; returns the Dockerfile text."""
    dest_env.mkdir(parents=True)
    for item in src_env.iterdir():
        if item.name in skip or item.name.startswith("."):
            continue
        target = dest_env / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    dockerfile = (dest_env / "Dockerfile").read_text(encoding="utf-8")
    if base_image:
        dockerfile = rewrite_from(dockerfile, base_image)
        (dest_env / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    return dockerfile


def _pytest_target(tests: Path) -> str:
    return f"{TEST_DIR}/test_outputs.py" if (tests / "test_outputs.py").is_file() else TEST_DIR


def import_tb_task(src: Path, dest: Path, *, base_image: str | None,
                   offline_tests: bool) -> dict[str, Any]:
    """One Terminal-Bench folder into ``dest``; returns the harness task dict."""
    meta = yaml.safe_load((src / "task.yaml").read_text(encoding="utf-8")) or {}
    if not (src / "Dockerfile").is_file():
        raise ConfigError(f"{src}: no Dockerfile")
    dockerfile = _write_environment(src, dest / "environment", _TB_SKIP, base_image)
    workdir = workdir_of(dockerfile)
    if (src / "tests").is_dir():
        shutil.copytree(src / "tests", dest / "tests")
    else:
        (dest / "tests").mkdir()
    if (src / "run-tests.sh").is_file():
        shutil.copy2(src / "run-tests.sh", dest / "tests" / "run-tests.sh")
    test_timeout = math.ceil(float(meta.get("max_test_timeout_sec") or 180))
    online = f"cd {workdir} && TEST_DIR={TEST_DIR} bash {TEST_DIR}/run-tests.sh"
    offline = (f"cd {workdir} && TEST_DIR={TEST_DIR} python3 -m pytest "
               f"{_pytest_target(dest / 'tests')} -rA")
    task: dict[str, Any] = {
        "id": src.name,
        "tags": _tags(meta),
        "prompt": _instruction(meta, src),
        "timeout_sec": math.ceil(float(meta.get("max_agent_timeout_sec") or 900)),
        "dockerfile": "environment/Dockerfile",
        "build_context": "environment",
        "tests": {"dir": "tests", "cmd": offline if offline_tests else online,
                  "offline_cmd": offline, "format": "pytest", "test_dir": TEST_DIR,
                  "timeout_sec": test_timeout},
        "meta": {"source": "terminal-bench", "workdir": workdir, "offline_tests": offline_tests,
                 "base_image": base_image, "parser_name": meta.get("parser_name")},
    }
    if (src / "solution.sh").is_file():
        shutil.copy2(src / "solution.sh", dest / "solution.sh")
        task["oracle"] = "solution.sh"
    return task


def import_harbor_task(src: Path, dest: Path, *, base_image: str | None,
                       offline_tests: bool) -> dict[str, Any]:
    """One Harbor folder into ``dest``; returns the harness task dict."""
    meta = tomllib.loads((src / "task.toml").read_text(encoding="utf-8"))
    if not (src / "environment" / "Dockerfile").is_file():
        raise ConfigError(f"{src}: no environment/Dockerfile")
    instruction = (src / "instruction.md").read_text(encoding="utf-8") if (
        src / "instruction.md").is_file() else ""
    if not instruction.strip():
        raise ConfigError(f"{src}: no instruction.md")
    dockerfile = _write_environment(src / "environment", dest / "environment", set(), base_image)
    workdir = workdir_of(dockerfile)
    shutil.copytree(src / "tests", dest / "tests")
    test_timeout = math.ceil(float(meta.get("verifier", {}).get("timeout_sec") or 180))
    # test.sh need not be pytest: the reward it writes becomes the last pytest-style
    # summary line, which is what the tests check reads
    reward = "/logs/verifier/reward.txt"
    online = (f"cd {workdir} && mkdir -p /logs/verifier && bash {TEST_DIR}/test.sh; "
              f"r=$(cut -d. -f1 {reward} 2>/dev/null); if [ \"$r\" = 1 ]; then "
              "echo '== 1 passed in 0.00s (reward 1) =='; else "
              "echo \"== 1 failed in 0.00s (reward ${r:-missing}) ==\"; exit 1; fi")
    offline = f"cd {workdir} && python3 -m pytest {_pytest_target(dest / 'tests')} -rA"
    task: dict[str, Any] = {
        "id": src.name,
        "tags": _tags(meta.get("metadata", {})),
        "prompt": instruction.strip(),
        "timeout_sec": math.ceil(float(meta.get("agent", {}).get("timeout_sec") or 900)),
        "dockerfile": "environment/Dockerfile",
        "build_context": "environment",
        "tests": {"dir": "tests", "cmd": offline if offline_tests else online,
                  "offline_cmd": offline, "format": "pytest", "test_dir": TEST_DIR,
                  "timeout_sec": test_timeout},
        "meta": {"source": "harbor", "workdir": workdir, "offline_tests": offline_tests,
                 "base_image": base_image},
    }
    if (src / "solution" / "solve.sh").is_file():
        shutil.copytree(src / "solution", dest / "solution")
        task["oracle"] = "solution/solve.sh"
    return task


def import_terminal_bench(src: Path, dest: Path, *, base_image: str | None = None,
                          offline_tests: bool = False, force: bool = False) -> ImportResult:
    """Import one task folder or a folder of them (either layout) into a suite at ``dest``."""
    if is_task_dir(src):
        dirs = [src]
    else:
        dirs = sorted(p for p in src.iterdir() if is_task_dir(p)) if src.is_dir() else []
    if not dirs:
        raise ConfigError(f"{src}: no Terminal-Bench (task.yaml) or Harbor (task.toml) task")
    prepare_dest(dest, force=force)
    tasks: list[dict[str, Any]] = []
    for d in dirs:
        out = dest / d.name
        out.mkdir()
        fn = import_harbor_task if (d / "task.toml").is_file() else import_tb_task
        tasks.append(fn(d, out, base_image=base_image, offline_tests=offline_tests))
    # each task file sits in its own folder, next to its environment and tests
    (dest / "suite.yaml").write_text(dump_yaml({
        "schema": SUITE_SCHEMA_ID, "name": f"terminal-bench-{src.name}",
        "description": f"Imported from {src}"}), encoding="utf-8")
    for t in tasks:
        (dest / t["id"] / "task.yaml").write_text(dump_yaml(ordered_task(t)), encoding="utf-8")
    notes = []
    if not offline_tests:
        notes.append("tests run the task's own script (may download); --offline-tests "
                     "runs pytest from the image instead")
    if base_image:
        notes.append(f"base image rewritten to {base_image}")
    return ImportResult(dest=dest, suites=[load_suite(dest)], notes=notes)
