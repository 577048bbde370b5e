"""Real Ray clusters on this host for the ray executor's tests.

``ray.cluster_utils.Cluster`` starts real raylets and a real GCS as separate processes (one
head, N more nodes), each node advertising the Docker resource the executor looks for; they
listen on loopback only. Usage stats are off; each cluster is shut down by its fixture.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.runner.conftest import REPO

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
DOCKER = {"harness_docker": 1}


def make_cluster(nodes: int, resources: dict[str, float] | None = DOCKER) -> Any:
    """A cluster of ``nodes`` raylets on loopback (the first is the head, with the GCS)."""
    from ray.cluster_utils import Cluster

    res = dict(resources or {})
    c = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 1, "resources": res, "node_ip_address": "127.0.0.1", "include_dashboard": False,
        # a dead node is noticed in seconds, not the default's ~30 s
        "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}})
    for _ in range(nodes - 1):
        c.add_node(num_cpus=1, resources=res, node_ip_address="127.0.0.1")
    c.wait_for_nodes(timeout=120)
    return c


@pytest.fixture
def cluster_factory() -> Iterator[Callable[..., Any]]:
    try:
        import ray  # noqa: F401
    except ImportError:
        need(False, "ray is not installed (pip install 'agent-replay-harness[ray]')")
    made: list[Any] = []

    def make(nodes: int = 2, resources: dict[str, float] | None = DOCKER) -> Any:
        c = make_cluster(nodes, resources)
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # wide enough that `harness show`'s table keeps each cell on one line
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", HARNESS_INFRA_BACKOFF_SEC="3", COLUMNS="300")
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", HARNESS_INFRA_BACKOFF_SEC="3")
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A read of the run store (another process writes it)."""
    for _ in range(50):
        try:
            with sqlite3.connect(db, timeout=10) as c:
                return list(c.execute(sql, params))
        except sqlite3.OperationalError:
            time.sleep(0.2)
    raise AssertionError(f"cannot read {db}")


def docker_nodes_needed() -> None:
    import shutil

    need(shutil.which("docker") is not None, "docker CLI not found")
