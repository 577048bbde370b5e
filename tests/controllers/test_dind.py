"""The controller tests once more against a docker-in-docker daemon (``DOCKER_HOST=tcp://``).

Why a nested pytest run: it proves the whole docker half of the suite (sockets, recordings,
attach commands, the DockerSandbox seam) works when the engine is another machine, with no
host path shared, which is how CI jobs with a ``docker:dind`` service run the harness.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.docker
@pytest.mark.dind
@pytest.mark.slow
def test_controller_suite_passes_against_a_dind_daemon(dind_daemon: dict[str, str]) -> None:
    env = {**os.environ, **dind_daemon, "HARNESS_TEST_BACKENDS": "docker", "HARNESS_IN_DIND": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/controllers", "-m", "docker and not dind",
         "-q", "-p", "no:cacheprovider", "-o", "addopts=--strict-markers"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )
    tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
    assert proc.returncode == 0, f"nested run failed under {dind_daemon['DOCKER_HOST']}:\n{tail}"
    passed = re.search(r"(\d+) passed", tail)
    assert passed and int(passed.group(1)) >= 30, tail
    assert "error" not in tail.splitlines()[-1], tail

    # the nested run really used the inner daemon: its containers were made there
    inner = subprocess.run(["docker", "ps", "-a", "-q", "--filter",
                            "label=io.agent-harness.kind=test-controller"],
                           env={**os.environ, **dind_daemon}, capture_output=True, text=True,
                           timeout=60, check=True)
    assert inner.stdout.strip() == "", "nested tests left containers behind in the dind daemon"
