"""Sandboxes for the sandbox tests: one shared container per module where isolation allows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from controllers.sandbox import DockerSandbox, DockerSandboxConfig, LocalSandbox


@pytest.fixture(scope="module")
def docker_box(docker_client: Any, base_image: str) -> Iterator[DockerSandbox]:
    cfg = DockerSandboxConfig(image=base_image, run_id=f"test-{uuid.uuid4().hex[:6]}")
    with DockerSandbox(cfg, client=docker_client) as box:
        yield box


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def any_box(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Each conformance test runs once per Sandbox kind."""
    if request.param == "local":
        with LocalSandbox() as box:
            yield box
    else:
        box = request.getfixturevalue("docker_box")
        d = f"/workspace/conf-{uuid.uuid4().hex[:8]}"
        box.exec(["mkdir", "-p", d])
        yield _Rooted(box, d)


class _Rooted:
    """The shared container, seen through a fresh working directory per test."""

    def __init__(self, box: DockerSandbox, workdir: str) -> None:
        self._box = box
        self.workdir = workdir

    def _p(self, path: str) -> str:
        return path if path.startswith("/") else f"{self.workdir}/{path}"

    def exec(self, cmd: list[str], **kw: Any) -> Any:
        kw.setdefault("cwd", self.workdir)
        return self._box.exec(cmd, **kw)

    def read_file(self, path: str) -> bytes:
        return self._box.read_file(self._p(path))

    def write_file(self, path: str, data: Any, **kw: Any) -> None:
        self._box.write_file(self._p(path), data, **kw)

    def copy_in(self, src: Any, dest: str, **kw: Any) -> None:
        self._box.copy_in(src, self._p(dest), **kw)

    def copy_out(self, src: str, dest: Any) -> None:
        self._box.copy_out(self._p(src), dest)
