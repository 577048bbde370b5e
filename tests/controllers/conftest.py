"""Fixtures for the tmux controller tests: real tmux, real containers.

``backend`` runs a test once on a local tmux server and once in a container; every server
and container a test makes is killed in a finalizer that swallows its own errors (so the
real failure stays visible). Set ``HARNESS_TEST_BACKENDS=docker`` to run only the container
half (the docker-in-docker pass does this).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controllers.tmux import ContainerHost, LocalTmuxController, TmuxController
from tests.conftest import owner_label_args

DOCKER_TIMEOUT_SEC = 120


def _selected(name: str) -> bool:
    wanted = os.environ.get("HARNESS_TEST_BACKENDS", "local,docker").split(",")
    return name in wanted


@pytest.fixture(scope="session")
def test_image(docker_client: Any, base_image: str) -> str:
    """The image to run; under docker-in-docker ``HARNESS_TEST_IMAGE`` names the loaded tag."""
    return os.environ.get("HARNESS_TEST_IMAGE") or base_image


def start_container(image: str) -> str:
    """A labelled, network-less container through the docker CLI (DOCKER_HOST aware)."""
    out = subprocess.run(
        ["docker", "run", "-d", "--init", "--network", "none",
         *owner_label_args("test-controller"), image],
        capture_output=True, timeout=DOCKER_TIMEOUT_SEC, check=True, text=True,
    )
    return out.stdout.strip()


def remove_container(cid: str) -> None:
    with contextlib.suppress(Exception):
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True,
                       timeout=DOCKER_TIMEOUT_SEC, check=False)


@pytest.fixture
def container(test_image: str) -> Iterator[str]:
    cid = start_container(test_image)
    try:
        yield cid
    finally:
        remove_container(cid)


Factory = Callable[..., TmuxController]


@pytest.fixture(
    params=[
        pytest.param("local", marks=pytest.mark.tmux),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if not _selected(name):
        pytest.skip(f"backend {name} not selected by HARNESS_TEST_BACKENDS")
    if name == "local":
        request.getfixturevalue("tmux_bin")
    return name


@pytest.fixture
def make_ctl(request: pytest.FixtureRequest, backend: str) -> Iterator[Factory]:
    """``make_ctl(command, width=, height=, transport=, env=)``: a started controller (the
    local one is ``LocalTmuxController``: its lifecycle runs through libtmux)."""
    made: list[TmuxController] = []
    host: Any = None
    if backend == "docker":
        cid = request.getfixturevalue("container")
        host = ContainerHost(cid)

    def factory(command: list[str] | str, *, width: int = 80, height: int = 24,
                transport: str = "control", env: dict[str, str] | None = None,
                cwd: str | None = None) -> TmuxController:
        kw: Any = {"session": f"t{uuid.uuid4().hex[:8]}", "transport": transport}
        ctl = TmuxController(host, **kw) if host is not None else LocalTmuxController(**kw)
        made.append(ctl)
        ctl.start(command, width=width, height=height, env=env, cwd=cwd)
        return ctl

    try:
        yield factory
    finally:
        for ctl in made:
            with contextlib.suppress(Exception):
                ctl.close()



# ---------------------------------------------------------------- docker-in-docker

#: run flags that work where --privileged fails on this kind of host (issue 3)
DIND_RUN_FLAGS = [
    "--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/var/lib/docker:exec",
]


def _docker(args: list[str], *, env: dict[str, str] | None = None,
            timeout: float = DOCKER_TIMEOUT_SEC) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)


@pytest.fixture(scope="session")
def dind_daemon(docker_client: Any, base_image: str) -> Iterator[dict[str, str]]:
    """A docker-in-docker daemon on a loopback TCP port, holding the test images.

    Yields the environment (``DOCKER_HOST=tcp://127.0.0.1:<port>``) a nested test run uses.
    Images reach the inner daemon with ``docker save | docker load``.
    """
    import time

    from harness import images

    if os.environ.get("HARNESS_IN_DIND"):
        pytest.skip("already inside the docker-in-docker pass")
    images.build(docker_client, "dind", ca_bundle=images.resolve_ca_bundle(),
                 say=lambda _m: None)
    run = _docker(["run", "-d", *owner_label_args("test-dind"), *DIND_RUN_FLAGS,
                   "-p", "127.0.0.1::2375", images.latest_tag("dind")])
    assert run.returncode == 0, f"docker run dind failed: {run.stderr.strip()}"
    cid = run.stdout.strip()
    try:
        port = _docker(["port", cid, "2375/tcp"]).stdout.split("\n")[0].rsplit(":", 1)[-1]
        env = {**os.environ, "DOCKER_HOST": f"tcp://127.0.0.1:{port.strip()}"}
        env.pop("DOCKER_CONTEXT", None)
        deadline = time.monotonic() + 60
        while _docker(["info"], env=env, timeout=20).returncode != 0:
            assert time.monotonic() < deadline, (
                "inner dockerd did not come up: " + _docker(["logs", "--tail", "20", cid]).stderr)
            time.sleep(0.5)
        tags = [base_image, images.latest_tag("base"), images.DEBIAN_TAG]
        save = subprocess.Popen(["docker", "save", *tags], stdout=subprocess.PIPE)
        try:
            load = subprocess.run(["docker", "load"], stdin=save.stdout, capture_output=True,
                                  text=True, timeout=600, env=env, check=False)
        finally:
            assert save.stdout is not None
            save.stdout.close()
            save.wait(timeout=600)
        assert load.returncode == 0, f"docker load into dind failed: {load.stderr.strip()}"
        yield {"DOCKER_HOST": env["DOCKER_HOST"], "HARNESS_TEST_IMAGE": base_image}
    finally:
        remove_container(cid)
