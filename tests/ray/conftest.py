"""Real Ray clusters on this host for the ray executor's tests.

``ray.cluster_utils.Cluster`` starts real raylets and a real GCS as separate processes (one
head, N more nodes), each node advertising the Docker resource the executor looks for; they
listen on loopback only. Usage stats are off; each cluster is shut down by its fixture.

And the multi-node rig: one real cluster (tests/ray/rig.py) per session.

``ray_rig`` is a head on the host plus one ``harness/ray-node`` worker holding harness/base;
``ray_rig_factory(workers=N, images=("base", "claude"))`` makes another shape (the live rig
of a different shape is closed first: two cores hold one cluster at a time). Ray is needed:
outside CI its absence skips, under CI=true it fails (tests/conftest.py ``need``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.runner.conftest import REPO

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# Ray 2.60 turns token auth on for a new local cluster and writes ~/.ray/auth_token; every
# later head on the machine then wants that token, which the rig's worker containers lack.
# The test clusters live on loopback and on the rig's own network: no auth, said explicitly.
os.environ["RAY_AUTH_MODE"] = "disabled"
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


from controllers.sandbox import owner
from tests.ray.rig import ImageCache, RayRig

RigFactory = Callable[..., RayRig]


def _say(msg: str) -> None:
    print(msg, flush=True)  # the rig's cost stays visible (pytest -s, or the captured log)


@pytest.fixture(scope="session")
def ray_available() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        need(False, "Ray is not installed: pip install 'agent-replay-harness[ray]'")


@pytest.fixture(scope="session")
def ray_node_image(docker_client: Any, base_image: str, ray_available: None) -> tuple[str, float]:
    """harness/ray-node built once (reused by content hash): (tag, seconds it took)."""
    from harness import images

    started = time.monotonic()
    tag = images.build(docker_client, "ray-node", say=_say)
    return tag, time.monotonic() - started


@pytest.fixture(scope="session")
def ray_image_cache() -> Iterator[ImageCache]:
    """One ``docker save`` per image set for the whole session (removed at its end)."""
    d = Path(tempfile.mkdtemp(prefix=owner.temp_prefix("rayrig-images")))
    try:
        yield ImageCache(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_rig_factory(docker_client: Any, ray_node_image: tuple[str, float],
                    ray_image_cache: ImageCache) -> Iterator[RigFactory]:
    """``make(workers=1, images=("base",), worker_cpus=None)``: the rig of that shape, made
    once per session; at most one rig lives at a time, all closed at the session's end."""
    from harness import images as harness_images

    tag, build_sec = ray_node_image
    live: dict[tuple[Any, ...], RayRig] = {}

    def make(workers: int = 1, images: Sequence[str] = ("base",),
             worker_cpus: int | None = None) -> RayRig:
        key = (workers, tuple(images), worker_cpus)
        if key in live:
            return live[key]
        for other in list(live):
            live.pop(other).close()
        tags: list[str] = []
        for name in images:
            tags += [harness_images.ensure_image(docker_client, name, say=_say),
                     harness_images.latest_tag(name)]
        rig = RayRig(workers=workers, image=tag, load_tags=tags, cache=ray_image_cache,
                     say=_say, worker_cpus=worker_cpus)
        rig.timings.image_build = build_sec
        rig.start()
        live[key] = rig
        return rig

    try:
        yield make
    finally:
        for rig in live.values():
            with contextlib.suppress(Exception):
                rig.close()


@pytest.fixture
def ray_rig(ray_rig_factory: RigFactory) -> RayRig:
    """The default rig: the head plus one worker holding harness/base (the factory's live
    one; asked for per test, because a test that wants another shape closes it)."""
    return ray_rig_factory()


@pytest.fixture
def ray_driver(ray_rig: RayRig) -> Iterator[Any]:
    """This process connected to ``ray_rig`` as a driver (``ray.shutdown()`` after)."""
    import os

    import ray

    os.environ.setdefault("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL", "minor")
    ray.init(**ray_rig.init_kwargs(), logging_level="warning", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module", autouse=True)
def _one_ray_module_at_a_time() -> Iterator[None]:
    """The suite runs on two pytest workers (scripts/test.sh); two Ray clusters starting at
    once on two cores miss Ray's fixed node-registration window. A file lock makes the Ray
    modules take turns (a worker waiting here holds no cluster)."""
    import fcntl

    path = Path(tempfile.gettempdir()) / "harness-tests-ray.lock"
    with path.open("a") as fh:
        deadline = time.monotonic() + 3600
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("another pytest worker held the Ray test lock for an hour", pytrace=False)
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: a trial placed on a node (the ``placed`` event names it), its agent running (``attach``)
#: and no row yet: in flight there
IN_FLIGHT_ON = ("SELECT 1 FROM events p JOIN events a ON a.trial = p.trial AND a.kind = 'attach' "
                "WHERE p.kind = 'placed' AND p.message LIKE ? AND p.trial NOT IN "
                "(SELECT task_id || '/' || variant || '/' || attempt FROM trials)")


def kill_while_in_flight(proc: subprocess.Popen[str], db: Path, node_id: str,
                         kill: Callable[[], None], timeout_sec: float) -> subprocess.CompletedProcess[str]:
    """Waits until ``proc``'s run has a trial in flight on ``node_id``, then ``kill``s that
    node; returns the run once it ends (killed itself if the wait or the run overruns)."""
    try:
        deadline = time.monotonic() + timeout_sec
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists() and rows(db, IN_FLIGHT_ON, f"%{node_id[:8]}"):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        kill()
        out, err = proc.communicate(timeout=timeout_sec)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
