"""Where tmux runs: the tiny argv-prefix seam between the controller and a machine.

Why a prefix and not a Sandbox: both transports need a *host process* (one per command,
or one long-lived ``tmux -C``), so all they need is "the host argv that runs this command
there". A local host returns the command unchanged; a container host wraps it in
``docker exec [-i] [-u user] <ctr>``; a sandbox with the optional ``SupportsHostArgv``
ability is asked directly. The docker CLI honours ``DOCKER_HOST`` and contexts by itself, so
nothing here names a host path that a remote engine could not see.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from controllers.sandbox.base import SupportsHostArgv


@runtime_checkable
class Host(Protocol):
    """Turns a command into the host argv that runs it where the tmux server lives."""

    @property
    def local(self) -> bool:
        """True when tmux runs on this machine (host paths are the pane's paths)."""
        ...

    def argv(self, cmd: list[str], *, interactive: bool = False) -> list[str]: ...

    def attach_argv(self, cmd: list[str]) -> list[str]:
        """The argv a person runs in a terminal (a tty) to reach ``cmd`` live."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class LocalHost:
    """tmux on this machine: commands run as they are."""

    local: bool = True

    def argv(self, cmd: list[str], *, interactive: bool = False) -> list[str]:
        return list(cmd)

    def attach_argv(self, cmd: list[str]) -> list[str]:
        return list(cmd)

    def describe(self) -> str:
        return "local tmux"


@dataclass(frozen=True)
class ContainerHost:
    """tmux inside a running container, reached through the docker CLI."""

    container: str
    user: str | None = None
    docker_bin: str = "docker"
    local: bool = False

    def _base(self, flags: list[str]) -> list[str]:
        argv = [self.docker_bin, "exec", *flags]
        if self.user:
            argv += ["-u", self.user]
        return [*argv, self.container]

    def argv(self, cmd: list[str], *, interactive: bool = False) -> list[str]:
        return [*self._base(["-i"] if interactive else []), *cmd]

    def attach_argv(self, cmd: list[str]) -> list[str]:
        return [*self._base(["-it"]), *cmd]

    def describe(self) -> str:
        return f"container {self.container[:12]}"


@dataclass(frozen=True)
class SandboxHost:
    """tmux inside a sandbox that can name its own host argv (``SupportsHostArgv``)."""

    sandbox: SupportsHostArgv
    user: str | None = None
    local: bool = False

    def argv(self, cmd: list[str], *, interactive: bool = False) -> list[str]:
        return self.sandbox.host_argv(cmd, interactive=interactive, user=self.user)

    def attach_argv(self, cmd: list[str]) -> list[str]:
        return self.sandbox.host_argv(cmd, interactive=True, tty=True, user=self.user)

    def describe(self) -> str:
        cid = getattr(self.sandbox, "container_id", None)
        return f"sandbox {str(cid)[:12]}" if cid else f"sandbox {type(self.sandbox).__name__}"


def host_for(target: object, *, user: str | None = None) -> Host:
    """A Host for a sandbox (``host_argv`` ability), a container id, or ``None`` (local)."""
    if target is None:
        return LocalHost()
    if isinstance(target, str):
        return ContainerHost(target, user=user)
    if isinstance(target, SupportsHostArgv):
        return SandboxHost(target, user=user)
    raise TypeError(f"cannot run tmux in {type(target).__name__}: it has no host_argv()")


def default_local_socket_dir() -> Path:
    """Local sockets live under the user's cache dir, never /tmp (a ``rm -rf /tmp/*`` run by
    an agent, or tmp cleaners, must not kill the server)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-harness" / "tmux"


#: where the socket goes inside a container: the exec user's home, resolved there
CONTAINER_SOCKET_DIR = "$HOME/.harness/tmux"


def socket_path_for(host: Host, session: str, *, timeout_sec: float = 30.0) -> str:
    """A socket path outside /tmp: the cache dir locally, the exec user's home elsewhere
    (resolved *there*, so no host path is assumed to exist on a remote engine)."""
    from harness.errors import TransportError

    if host.local:
        d = default_local_socket_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return str(d / f"{session}.sock")
    script = f'd="{CONTAINER_SOCKET_DIR}" && mkdir -p -m 700 "$d" && cd "$d" && pwd'
    try:
        out = subprocess.run(host.argv(["sh", "-c", script]), capture_output=True,
                             timeout=timeout_sec, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TransportError(f"cannot reach {host.describe()}: {exc}") from exc
    path = out.stdout.decode(errors="replace").strip()
    if out.returncode != 0 or not path.startswith("/"):
        err = out.stderr.decode(errors="replace").strip()[:200]
        raise TransportError(f"cannot make the tmux socket dir in {host.describe()}: {err}")
    return f"{path}/{session}.sock"


def _conformance(sandbox: SupportsHostArgv) -> None:
    """mypy proves every host kind is a Host (never called)."""
    _hosts: list[Host] = [LocalHost(), ContainerHost("c"), SandboxHost(sandbox)]
