"""The Sandbox seam: where a Trial runs (a Docker container, or a local directory).

Why so few required methods: like inspect_ai's sandbox, everything else (snapshots, tmux,
tool shims) is built on ``exec`` + files, so a new sandbox kind is small to write and the
conformance suite (tests/sandbox/test_conformance.py) proves it behaves like the others.

A failed command is a value (``ExecResult`` with a non-zero exit code); only broken
machinery raises (``SandboxError`` and subclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ExecResult:
    """What one command did. ``timed_out`` / ``oom_killed`` explain a kill."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    oom_killed: bool = False
    duration_sec: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        """One line for logs and error messages."""
        if self.timed_out:
            return "timed out (killed inside the sandbox)"
        if self.oom_killed:
            return "killed: out of memory (raise the sandbox memory limit)"
        err = (self.stderr or self.stdout).strip().splitlines()
        return f"exit {self.exit_code}" + (f": {err[-1][:200]}" if err else "")


@runtime_checkable
class Sandbox(Protocol):
    """Run commands and move files in one isolated place.

    ``exec`` raises only when the sandbox cannot be reached; a command that fails, or that
    runs past ``timeout_sec`` (it is killed *inside* the sandbox), is an ``ExecResult``.
    """

    #: the directory the agent works in (inside the sandbox)
    workdir: str

    def exec(
        self,
        cmd: list[str],
        *,
        timeout_sec: float = 60.0,
        user: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        input: bytes | None = None,
    ) -> ExecResult: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644, user: str | None = None) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class SupportsCopy(Protocol):
    """Optional ability: move whole trees in and out (tar archives for Docker)."""

    def copy_in(self, src: Path, dest: str, *, user: str | None = None) -> None: ...

    def copy_out(self, src: str, dest: Path) -> None: ...


@runtime_checkable
class SupportsHostArgv(Protocol):
    """Optional ability: the host argv that runs a command inside the sandbox.

    The tmux transports use this for one-process-per-command and for the long-lived
    control-mode channel (``docker exec -i <ctr> tmux -C ...``); a local sandbox returns
    the command unchanged. The docker CLI honours DOCKER_HOST and contexts by itself.
    """

    def host_argv(
        self,
        cmd: list[str],
        *,
        interactive: bool = False,
        tty: bool = False,
        user: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> list[str]: ...


@runtime_checkable
class SupportsHostPath(Protocol):
    """Optional ability: where an absolute path the harness writes really is, for a sandbox
    that keeps such files elsewhere (a local one keeps them under its own root). A command
    typed into the pane names this place; sandboxes without the ability use the path as is."""

    def host_path(self, path: str) -> str: ...
