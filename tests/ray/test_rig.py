"""The multi-node rig is a real second host: its own node, address, engine, and mortality.

These run Ray tasks and actors on the rig's worker container and check what only a second
host can show: a different node id and IP, a container on the worker's engine that the host
engine does not see, Python/Ray versions equal to the driver's, and a killed worker reported
failed by Ray within a bounded wait, then rejoining under a new node id.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.ray.rig import RESOURCE, RayRig, docker_env, sweep_orphan_heads

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.slow]

GET_TIMEOUT_SEC = 120
#: how long Ray may take to report a killed worker's task and actor as failed (the rig
#: tightens the head's health check to about 3 s; the bound leaves room on a busy machine)
FAILURE_BOUND_SEC = 90


def _ship_by_value(ray: Any) -> None:
    """Worker nodes have no ``tests`` package: send this module's functions by value."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def where_am_i() -> dict[str, Any]:
    import platform as _platform

    import ray as _ray

    return {"node_id": _ray.get_runtime_context().get_node_id(),
            "ip": _ray.util.get_node_ip_address(),
            "python": _platform.python_version(), "ray": _ray.__version__}


def node_toolbox(dists: list[str]) -> dict[str, Any]:
    """On the node: which of the harness's runtime distributions and tools are missing."""
    import shutil as _shutil
    from importlib import metadata as _md

    missing = []
    for d in dists:
        try:
            _md.version(d)
        except _md.PackageNotFoundError:
            missing.append(d)
    return {"missing": missing,
            "tools": {t: bool(_shutil.which(t)) for t in ("tmux", "git", "docker")}}


def run_container_here(image: str, name: str) -> dict[str, str]:
    """On the node the task runs on: start ``image`` on that node's own engine."""
    import subprocess as sp

    run = sp.run(["docker", "run", "-d", "--name", name, "--network", "none", image,
                  "sleep", "300"], capture_output=True, text=True, timeout=120, check=False)
    ps = sp.run(["docker", "ps", "--filter", f"name={name}", "--format", "{{.Names}}"],
                capture_output=True, text=True, timeout=60, check=False)
    return {"rc": str(run.returncode), "err": run.stderr.strip(), "ps": ps.stdout.strip(),
            "docker_host": os.environ.get("DOCKER_HOST", "")}


def _pin(ray: Any, node_id: str) -> dict[str, Any]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"resources": {RESOURCE: 1},
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}


def test_task_runs_on_the_worker_node_with_the_drivers_versions(
        ray_rig: RayRig, ray_driver: Any) -> None:
    ray = ray_driver
    _ship_by_value(ray)
    worker = ray_rig.workers[0]
    alive = {n["NodeID"]: n for n in ray.nodes() if n["Alive"]}
    assert set(ray_rig.node_ids()) <= set(alive), "the head does not see every rig node"
    for node_id in ray_rig.node_ids():
        assert alive[node_id]["Resources"].get(RESOURCE) == 1.0
    assert worker.ip != ray_rig.head_ip and worker.node_id != ray_rig.head_node_id

    task = ray.remote(where_am_i).options(**_pin(ray, worker.node_id))
    there = ray.get(task.remote(), timeout=GET_TIMEOUT_SEC)
    assert there["node_id"] == worker.node_id
    assert there["ip"] == worker.ip
    assert there["ray"] == ray.__version__
    assert there["python"].split(".")[:2] == platform.python_version().split(".")[:2]

    import re

    from harness.images import runtime_dependencies

    dists = [re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0] for d in runtime_dependencies()]
    kit = ray.get(ray.remote(node_toolbox).options(**_pin(ray, worker.node_id)).remote(dists),
                  timeout=GET_TIMEOUT_SEC)
    assert kit["missing"] == [] and all(kit["tools"].values()), kit

    head = ray.remote(where_am_i).options(**_pin(ray, ray_rig.head_node_id))
    here = ray.get(head.remote(), timeout=GET_TIMEOUT_SEC)
    assert (here["node_id"], here["ip"]) == (ray_rig.head_node_id, ray_rig.head_ip)


def test_container_runs_on_the_workers_own_engine(ray_rig: RayRig, ray_driver: Any,
                                                  base_image: str) -> None:
    ray = ray_driver
    _ship_by_value(ray)
    worker = ray_rig.workers[0]
    name = f"rayrig-probe-{uuid.uuid4().hex[:8]}"
    task = ray.remote(run_container_here).options(**_pin(ray, worker.node_id))
    try:
        out = ray.get(task.remote(base_image, name), timeout=GET_TIMEOUT_SEC)
        assert out["rc"] == "0", out["err"]
        assert out["ps"] == name
        on_worker = subprocess.run(
            ["docker", "ps", "--filter", f"name={name}", "--format", "{{.Names}}"],
            capture_output=True, text=True, timeout=60, env=docker_env(worker.docker_host), check=False)
        on_host = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}}"],
            capture_output=True, text=True, timeout=60, env=docker_env(), check=False)
        assert on_worker.stdout.strip() == name
        assert on_host.returncode == 0 and on_host.stdout.strip() == ""
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60,
                       env=docker_env(worker.docker_host), check=False)


def sleep_for(seconds: float) -> str:
    import time as _time

    _time.sleep(seconds)
    return "done"


def import_harness_here() -> dict[str, str]:
    """On the node: where ``harness`` comes from (absent unless runtime_env ships it)."""
    try:
        import controllers.sandbox.owner as _owner
        import harness.labels as _labels
    except ModuleNotFoundError as exc:
        return {"missing": str(exc.name)}
    return {"file": _labels.__file__, "prefix": _labels.PREFIX,
            "owner": _owner.__name__}


def test_harness_code_reaches_the_worker_through_runtime_env_py_modules(
        ray_rig: RayRig, ray_driver: Any) -> None:
    """The image holds no harness code; the executor ships it with ``py_modules``, which
    Ray takes as local folders only at the job level (``ray.init(runtime_env=...)``)."""
    ray = ray_driver
    _ship_by_value(ray)
    repo = Path(__file__).resolve().parents[2]
    pin = _pin(ray, ray_rig.workers[0].node_id)
    bare = ray.get(ray.remote(import_harness_here).options(**pin).remote(),
                   timeout=GET_TIMEOUT_SEC)
    assert bare == {"missing": "controllers"}
    ray.shutdown()
    shipped = {"py_modules": [str(repo / m) for m in ("harness", "controllers", "gate")],
               "excludes": ["__pycache__"]}
    ray.init(**ray_rig.init_kwargs(), runtime_env=shipped, logging_level="warning",
             log_to_driver=False)  # the ray_driver fixture shuts this one down
    _ship_by_value(ray)
    got = ray.get(ray.remote(import_harness_here).options(**pin).remote(),
                  timeout=GET_TIMEOUT_SEC)
    from harness import labels

    assert got.get("prefix") == labels.PREFIX, got
    assert not got["file"].startswith(str(repo)), "imported the driver's copy, not a shipped one"


class Pinger:
    """An actor that says where it lives and can be kept busy."""

    def where(self) -> dict[str, Any]:
        return where_am_i()

    def busy(self, seconds: float) -> str:
        import time as _time

        _time.sleep(seconds)
        return "done"


@pytest.mark.parametrize("how", ["container", "raylet"])
def test_killed_worker_fails_its_actor_and_task_then_rejoins(
        ray_rig: RayRig, ray_driver: Any, how: str) -> None:
    ray = ray_driver
    _ship_by_value(ray)
    worker = ray_rig.workers[0]
    actor_cls = ray.remote(num_cpus=0)(Pinger)
    on_worker = actor_cls.options(**_pin(ray, worker.node_id)).remote()
    on_head = actor_cls.options(**_pin(ray, ray_rig.head_node_id)).remote()
    assert ray.get(on_worker.where.remote(), timeout=GET_TIMEOUT_SEC)["node_id"] == worker.node_id
    assert ray.get(on_head.where.remote(), timeout=GET_TIMEOUT_SEC)["node_id"] == \
        ray_rig.head_node_id
    # both actors alive side by side, each busy on its own node
    assert ray.get([on_worker.busy.remote(0.2), on_head.busy.remote(0.2)],
                   timeout=GET_TIMEOUT_SEC) == ["done", "done"]

    in_flight = on_worker.busy.remote(600)
    sleeper = ray.remote(max_retries=0)(sleep_for).options(**_pin(ray, worker.node_id))
    task = sleeper.remote(600)
    head_busy = on_head.busy.remote(2)
    time.sleep(1)  # let both calls reach the worker before it dies
    old_node = worker.node_id
    ray_rig.kill_worker(0, how=how)

    started = time.monotonic()
    for ref in (in_flight, task):
        with pytest.raises(ray.exceptions.RayError) as failed:
            ray.get(ref, timeout=FAILURE_BOUND_SEC)
        assert not isinstance(failed.value, ray.exceptions.GetTimeoutError)
    print(f"ray rig: worker killed ({how}) -> actor and task failed after "
          f"{time.monotonic() - started:.1f}s", flush=True)
    assert ray.get(head_busy, timeout=GET_TIMEOUT_SEC) == "done"  # the head's actor lives on
    assert ray.get(on_head.where.remote(), timeout=GET_TIMEOUT_SEC)["node_id"] == \
        ray_rig.head_node_id
    dead_after = ray_rig.wait_node_dead(old_node)
    print(f"ray rig: head marked the worker dead after {dead_after:.1f}s", flush=True)

    started = time.monotonic()
    back = ray_rig.revive_worker(0)
    print(f"ray rig: worker revived (restart, image reload, rejoin) in "
          f"{time.monotonic() - started:.1f}s", flush=True)
    assert back.node_id != old_node
    there = ray.get(ray.remote(where_am_i).options(**_pin(ray, back.node_id)).remote(),
                    timeout=GET_TIMEOUT_SEC)
    assert (there["node_id"], there["ip"]) == (back.node_id, back.ip)
    images = subprocess.run(["docker", "images", "-q", "harness/base"], capture_output=True,
                            text=True, timeout=60, env=docker_env(back.docker_host), check=False)
    assert images.stdout.strip(), "the revived worker's engine lost harness/base"
    ray.kill(on_head)


def test_rig_resources_carry_harness_labels(ray_rig: RayRig) -> None:
    from harness import labels

    for obj in (ray_rig.network, ray_rig.workers[0].container_id):
        kind = "network" if obj == ray_rig.network else "container"
        out = subprocess.run(["docker", kind, "inspect", "--format", "{{json .Config.Labels}}"
                              if kind == "container" else "{{json .Labels}}", obj],
                             capture_output=True, text=True, timeout=60, env=docker_env(), check=False)
        got = json.loads(out.stdout)
        assert got[labels.MANAGED] == "true" and got[labels.OWNER_PID] == str(os.getpid())
        assert got[labels.KIND] == "dind"  # what `harness gc` sweeps


def test_close_releases_head_network_and_temp_dir(ray_node_image: Any,
                                                  ray_image_cache: Any) -> None:
    from tests.ray import rig as rig_mod

    rig = RayRig(workers=0, image=ray_node_image[0], cache=ray_image_cache)
    rig.start()
    temp_dir, network = rig.temp_dir, rig.network
    assert temp_dir is not None and rig_mod._pids_mentioning(str(temp_dir))
    rig.close()
    rig.close()  # twice is fine
    assert not rig_mod._pids_mentioning(str(temp_dir)), "head processes outlived close()"
    assert not temp_dir.exists()
    gone = subprocess.run(["docker", "network", "inspect", network], capture_output=True,
                          text=True, timeout=60, env=docker_env(), check=False)
    assert gone.returncode != 0


def test_sweep_kills_processes_of_a_head_whose_owner_died(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ray import rig as rig_mod

    monkeypatch.setattr(rig_mod, "TEMP_ROOT", tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait(timeout=30)
    orphan_dir = tmp_path / f"{rig_mod.TEMP_PREFIX}{dead.pid}-x"
    orphan_dir.mkdir()
    (orphan_dir / "owner").write_text(f"{dead.pid} 1\n")
    live_dir = tmp_path / f"{rig_mod.TEMP_PREFIX}{os.getpid()}-y"
    live_dir.mkdir()
    (live_dir / "owner").write_text(f"{os.getpid()} \n")
    # stand-ins for an orphaned head's processes: they name their temp dir, as Ray's do
    orphan = subprocess.Popen(["sh", "-c", "sleep 300", str(orphan_dir)])
    kept = subprocess.Popen(["sh", "-c", "sleep 300", str(live_dir)])
    try:
        swept = sweep_orphan_heads(say=lambda _m: None)
        assert swept == [orphan_dir]
        assert orphan.wait(timeout=30) != 0
        assert kept.poll() is None and live_dir.exists() and not orphan_dir.exists()
    finally:
        for p in (orphan, kept):
            p.kill()
            p.wait(timeout=30)


def test_two_workers_are_two_more_hosts(ray_rig_factory: Any) -> None:
    """N workers: N distinct nodes, addresses and engines (runs last: it replaces the
    one-worker rig, since two cores hold one cluster at a time)."""
    rig = ray_rig_factory(workers=2)
    ids = [w.node_id for w in rig.workers]
    ips = [w.ip for w in rig.workers]
    assert len({*ids, rig.head_node_id}) == 3 and len({*ips, rig.head_ip}) == 3
    assert set(rig.alive_nodes()) >= {*ids, rig.head_node_id}
    engine_ids = set()
    for w in rig.workers:
        info = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True,
                              text=True, timeout=60, env=docker_env(w.docker_host),
                              check=False)
        assert info.returncode == 0, info.stderr
        engine_ids.add(info.stdout.strip())
    host = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True,
                          text=True, timeout=60, env=docker_env(), check=False)
    assert len(engine_ids | {host.stdout.strip()}) == 3
