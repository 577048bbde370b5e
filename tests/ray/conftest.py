"""Fixtures for the multi-node Ray tests: one real cluster (tests/ray/rig.py) per session.

``ray_rig`` is a head on the host plus one ``harness/ray-node`` worker holding harness/base;
``ray_rig_factory(workers=N, images=("base", "claude"))`` makes another shape (the live rig
of a different shape is closed first: two cores hold one cluster at a time). Ray is needed:
outside CI its absence skips, under CI=true it fails (tests/conftest.py ``need``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from controllers.sandbox import owner
from tests.conftest import need
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


@pytest.fixture(scope="session")
def ray_rig(ray_rig_factory: RigFactory) -> RayRig:
    """The default rig: the head plus one worker holding harness/base."""
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
