"""The Docker provider: a container per task (``DockerSandbox``), warm-reset between trials
as root (``WarmSandbox``, ``controllers/pristine.sh``), images built by content hash, and
leftovers of killed runs swept by their owner labels (``controllers/sandbox/gc.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from controllers.sandbox import DockerSandbox, DockerSandboxConfig, SandboxLimits, owner
from controllers.sandbox.gc import DEFAULT_MAX_AGE_SEC, kept_for_other_hosts, sweep, sweep_temp_dirs
from harness import engine, images
from harness.errors import ConfigError, EngineError
from harness.providers.base import ProviderBase, SandboxRequest, TaskSandbox
from harness.providers.warm import WORKDIR, WarmSandbox, provision

if TYPE_CHECKING:
    from harness.tasks.schema import Task

#: the ``owner.temp_prefix`` kinds of host temp dirs a Docker run makes (and a SIGKILL leaves)
TEMP_KINDS = ("clone", "copyout", "build", "task-build", "salvage", "ray-node")  # ray-node: a node agent's run dir


class DockerProvider(ProviderBase):
    """Containers on the engine ``DOCKER_HOST`` (or the current docker context) names."""

    name = "docker"

    def __init__(self, client: Any = None) -> None:
        """``client``: an engine client already open (tests, tools); else ``start`` opens one
        and ``close`` closes it."""
        self._client: Any = client
        self._say: Callable[[str], None] = lambda m: None
        self._engine = engine.docker_endpoint()[0]
        self._notes: list[str] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            raise EngineError("the docker provider was not started", hint="call start() first")
        return self._client

    def start(self, run_id: str, say: Callable[[str], None]) -> None:
        del run_id
        self._say = say
        self._client = engine.client(timeout_sec=300)
        self.sweep()

    def ensure_image(self, image: str) -> str:
        return images.ensure_image(self.client, image, say=self._say)

    def task_images(self, tasks: Sequence[Task], agent_image: str) -> dict[str, tuple[str, str]]:
        """A task Dockerfile is built on top of the agent image (its FROM replaced); a prebuilt
        ``image`` is used as it is and must already hold tmux and the agent CLI."""
        out: dict[str, tuple[str, str]] = {}
        for task in tasks:
            src = task.environment_source()
            if src is None:
                continue
            if src.dockerfile is not None:
                out[task.id] = images.build_task_image(
                    self.client, task.id, src.dockerfile, src.context or src.dockerfile.parent, agent_image,
                    say=self._say)
            elif src.image:
                if not images.image_exists(self.client, src.image):
                    raise ConfigError(f"task {task.id}: image {src.image} is not in the engine",
                                      hint="build or load it first (no registry is assumed)")
                wd = self.client.images.get(src.image).attrs.get("Config", {}).get("WorkingDir") or "/workspace"
                out[task.id] = (src.image, wd)
        return out

    def create(self, req: SandboxRequest) -> WarmSandbox:
        return prepare(req.task, image=req.image, workdir=req.workdir, client=self.client, run_id=req.run_id,
                       limits=req.limits, with_relay=req.gateway_url is not None, gateway_url=req.gateway_url)

    def sweep(self, *, dry_run: bool = False,
              max_age_sec: float = DEFAULT_MAX_AGE_SEC) -> list[str]:
        """Containers, networks and volumes with the harness's labels, then the host temp dirs
        a Docker run makes (clones, copies out, image build contexts, salvage)."""
        client = self._client or engine.client()
        try:
            reaped = sweep(client, dry_run=dry_run, max_age_sec=max_age_sec)
            kept = kept_for_other_hosts(client, max_age_sec=max_age_sec)
            self._notes = [
                f"kept {n} container(s) owned by runs on host {h}: its owner cannot be checked "
                f"from here; `harness gc` on {h} (or the next run there) removes them, or "
                f"--max-age-hours once they are older" for h, n in sorted(kept.items())]
        finally:
            if client is not self._client:
                client.close()
        reaped += sweep_temp_dirs(TEMP_KINDS, dry_run=dry_run)
        return [r.line() for r in reaped]

    def sweep_notes(self) -> list[str]:
        return list(self._notes)

    def describe(self, sandbox: TaskSandbox) -> str:
        name = getattr(sandbox.box, "name", "?")
        return f"docker container {name} on engine {self._engine}"

    def keep(self, sandbox: TaskSandbox) -> str:
        """Left running to attach to or inspect: its relay ends, and neither exit nor Ctrl-C
        removes it (`harness gc` does, later)."""
        relay = getattr(sandbox, "relay", None)
        if relay is not None:
            with contextlib.suppress(Exception):  # the container is what was asked for
                relay.close()
        owner.unregister(sandbox.box)
        return f"container {getattr(sandbox.box, 'name', '?')} kept (--keep)"

    def close(self) -> None:
        if self._client is None:
            return
        try:
            owner.retry_unremoved(self._client)  # containers an engine restart kept from going
        finally:
            self._client.close()
            self._client = None


def prepare(task: Task, *, image: str, client: Any, run_id: str, limits: SandboxLimits,
            with_relay: bool, gateway_url: str | None, workdir: str = WORKDIR) -> WarmSandbox:
    """A started container holding the task's workspace, set up and sealed."""
    box = DockerSandbox(
        DockerSandboxConfig(image=image, run_id=run_id, workdir=workdir, limits=limits), client=client
    ).start()
    return provision(box, task, with_relay=with_relay, gateway_url=gateway_url, workdir=workdir)
