"""Transports run one tmux command and return its output lines.

Two kinds share one small Protocol (``run`` + ``close``):

(a) :class:`ExecTransport`: one host process per command (``docker exec <ctr> tmux ...`` or
    a local ``tmux ...``). Slow (a docker exec costs ~95 ms) but has no state: the reference
    and the fallback.
(b) :class:`controllers.tmux.control.ControlTransport`: one long-lived ``tmux -C`` client per
    server; ~0.2 ms a command.

:class:`FallbackTransport` is what the controller uses: (b) first, (a) when (b) cannot be
(re)connected.

Why not libtmux's ``tmux_bin`` / ``Server.cmd`` seam: ``tmux_bin`` must be one executable
path (a ``docker exec`` prefix needs a wrapper script per container), ``tmux_cmd`` runs
``Popen.communicate()`` with no timeout (a hung ``docker exec`` would hang the harness), and
it is process-per-command only, so the control channel could not sit behind it. We keep its
shape instead: ``run(argv) -> stdout lines``, the same contract as ``Server.cmd(...).stdout``,
so a libtmux ``Server`` could later be given a ``cmd`` that delegates to a transport.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Protocol, runtime_checkable

from controllers.tmux.argv import shell_join, tmux_prefix
from controllers.tmux.hosts import Host
from harness.errors import TmuxCommandError, TransportError

#: stderr texts that mean the machinery is broken (not a tmux complaint about the command)
_TRANSPORT_MARKERS = (
    "no server running",
    "error connecting to",
    "server exited unexpectedly",
    "no such container",
    "is not running",
    "error response from daemon",
    "cannot connect to the docker daemon",
    "executable file not found",
    "oci runtime exec failed",
)


@runtime_checkable
class Transport(Protocol):
    """Run one tmux command (argv after ``tmux -S <sock>``) and return stdout lines.

    Raises ``TmuxCommandError`` when tmux rejected the command, ``TransportError`` when the
    command could not be delivered or answered in ``timeout_sec``.
    """

    name: str

    def run(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]: ...

    def close(self) -> None: ...


def classify_failure(argv: list[str], code: int, stderr: str) -> Exception:
    """Map a failed tmux process to the error tree: broken machinery vs a refused command."""
    text = stderr.strip() or f"exit {code}"
    low = text.lower()
    what = f"tmux {argv[0] if argv else ''}: {text.splitlines()[-1][:300]}"
    if any(m in low for m in _TRANSPORT_MARKERS) or code in (125, 126, 127):
        return TransportError(what)
    return TmuxCommandError(what)


class ExecTransport:
    """Transport (a): one process per tmux command; every call has a timeout."""

    name = "exec"

    def __init__(
        self, host: Host, socket_path: str, *, tmux_bin: str = "tmux", timeout_sec: float = 15.0
    ) -> None:
        self.host = host
        self.socket_path = socket_path
        self.tmux_bin = tmux_bin
        self.timeout_sec = timeout_sec
        self.calls = 0

    def host_argv(self, argv: list[str]) -> list[str]:
        return self.host.argv([*tmux_prefix(self.tmux_bin, self.socket_path), *argv])

    def run(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]:
        full = self.host_argv(argv)
        limit = timeout_sec or self.timeout_sec
        self.calls += 1
        try:
            # own session: a terminal's Ctrl-C goes to the harness, which stops in order
            proc = subprocess.run(full, capture_output=True, timeout=limit, check=False,
                                  start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise TransportError(
                f"tmux {argv[0]} did not answer in {limit:g}s ({self.host.describe()})"
            ) from exc
        except OSError as exc:
            raise TransportError(f"cannot run {shell_join(full[:3])}: {exc}") from exc
        if proc.returncode != 0:
            raise classify_failure(argv, proc.returncode, proc.stderr.decode(errors="replace"))
        out = proc.stdout.decode("utf-8", errors="replace")
        lines = out.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines

    def close(self) -> None:
        """Nothing to release: each command's process is gone when ``run`` returns."""


class FallbackTransport:
    """The control channel first; the exec transport when the channel cannot connect.

    A command whose channel died *after* it was written may or may not have run, so it is
    repeated over the exec transport only when ``idempotent`` (reads); a write raises
    ``TransportError`` rather than risk typing the text twice.
    """

    #: after a failed connect, how long to use (a) before trying the channel again
    RETRY_CHANNEL_AFTER_SEC = 5.0

    def __init__(self, primary: Transport | None, secondary: ExecTransport) -> None:
        self.primary = primary
        self.secondary = secondary
        self.fallbacks = 0
        self._lock = threading.Lock()
        self._primary_down_until = 0.0

    @property
    def name(self) -> str:
        return self.primary.name if self.primary is not None else self.secondary.name

    def run(
        self, argv: list[str], *, timeout_sec: float | None = None, idempotent: bool = False
    ) -> list[str]:
        primary = self.primary
        if primary is None:
            return self.secondary.run(argv, timeout_sec=timeout_sec)
        if time.monotonic() < self._primary_down_until:
            with self._lock:
                self.fallbacks += 1
            return self.secondary.run(argv, timeout_sec=timeout_sec)
        from controllers.tmux.control import ChannelUnavailable

        try:
            return primary.run(argv, timeout_sec=timeout_sec)
        except ChannelUnavailable:
            # could not (re)connect at all: the command was never written; do not pay a
            # connect attempt on every command while the channel stays down
            with self._lock:
                self.fallbacks += 1
                self._primary_down_until = time.monotonic() + self.RETRY_CHANNEL_AFTER_SEC
            return self.secondary.run(argv, timeout_sec=timeout_sec)
        except TransportError:
            if not idempotent:
                raise
            with self._lock:
                self.fallbacks += 1
            return self.secondary.run(argv, timeout_sec=timeout_sec)

    def close(self) -> None:
        if self.primary is not None:
            self.primary.close()
        self.secondary.close()


def _conformance(host: Host) -> None:
    """mypy proves the exec transport is a Transport (never called)."""
    _t: Transport = ExecTransport(host, "")
