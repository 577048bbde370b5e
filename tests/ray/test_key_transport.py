"""The live mode's model key on a real cluster: sealed by the driver for one node agent,
opened there (its HMAC checked) into that agent's Gateway, and nowhere in what Ray keeps
(its logs, its session folder) nor in the run's folder.

The key's whole path is the agent's ``start`` (the Gateway is made there; trials only use
it), so no trial runs here."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from controllers.profiles.base import Variant
from harness.executors.ray_exec import cluster, driver
from harness.executors.ray_exec.secret import seal
from harness.runner.run import RunOptions
from harness.tasks import load_suite
from tests.runner.conftest import DEMO

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.slow]


def _grep(root: Path, needle: bytes) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink() and needle in p.read_bytes():
                hits.append(str(p))
        except OSError:
            continue
    return hits


def test_the_live_key_reaches_the_node_agent_sealed_and_leaves_no_trace(cluster_factory: Any,
                                                                       tmp_path: Path) -> None:
    import ray

    c = cluster_factory(1)
    key = f"sk-ant-test-{secrets.token_hex(16)}"
    assert cluster.connect(c.address, driver.runtime_env())
    try:
        from harness.executors.ray_exec.agent import NodeAgent

        agent = ray.remote(NodeAgent).options(num_cpus=0, max_concurrency=4).remote()
        hello = ray.get(agent.hello.remote(), timeout=120)
        assert hello["ray"] == ray.__version__
        suite = load_suite(DEMO)
        opts = RunOptions(agent="claude", variants=[Variant("baseline")], concurrency=1, provider="docker")
        # every key the driver sends (``RayExecutor.run``); the suite's folder is on this host
        spec = {"run_id": "key-run", "suite": suite, "suite_tar": None, "opts": opts, "driver_host": "127.0.0.1",
                "images_tar": driver._images_tar(), "suite_folder": str(DEMO), "ca_bundle": driver._ca_bundle(),
                "gateway": {"mode": "passthrough", "budget_tokens": None,
                            "keys": {"anthropic": seal(key, hello["public"])}, "urls": {}}}
        got = ray.get(agent.start.remote(spec), timeout=300)
        assert got["slots"] == 1
        # sealed for another agent's key pair: refused, not opened
        wrong = dict(spec, gateway=dict(spec["gateway"], keys={"anthropic": seal(key, 2**200 + 1)}))
        other = ray.remote(NodeAgent).options(num_cpus=0, max_concurrency=4).remote()
        with pytest.raises(ray.exceptions.RayTaskError, match="not made for this node agent"):
            ray.get(other.start.remote(wrong), timeout=300)
        ray.get([agent.close.remote(), other.close.remote()], timeout=120)
        session = Path(ray._private.worker.global_worker.node.get_session_dir_path())
    finally:
        ray.shutdown()
    assert _grep(session, key.encode()) == []
