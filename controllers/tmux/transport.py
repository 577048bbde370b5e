"""Transports run one tmux command and return its output lines.

Two kinds share one small Protocol (``run`` + ``close``):

(a) :class:`ExecTransport`: one host process per command (``docker exec <ctr> tmux ...`` or
    a local ``tmux ...``). Slow (a docker exec costs ~95 ms) but has no state: the reference
    and the fallback.
(b) :class:`controllers.tmux.control.ControlTransport`: one long-lived ``tmux -C`` client per
    server; ~0.2 ms a command.

:class:`FallbackTransport` is what the controller uses: (b) first, (a) when (b) cannot be
(re)connected.

Why not libtmux's ``tmux_bin`` / ``Server.cmd`` seam underneath: ``tmux_bin`` must be one
executable path (a ``docker exec`` prefix needs a wrapper script per container), ``tmux_cmd``
runs ``Popen.communicate()`` with no timeout (a hung ``docker exec`` would hang the harness),
and it is process-per-command only. It goes the other way round: ``call(argv) -> Reply`` has
the shape of ``Server.cmd(...)``, and :mod:`controllers.tmux.libtmux_bridge` gives libtmux a
``Server`` whose commands run on these transports.
"""

from __future__ import annotations

import subprocess
import threading
import time

from controllers.tmux.argv import shell_join, tmux_prefix
from controllers.tmux.base import ChannelUnavailable, Reply, Transport
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
        proc = self._process(argv, timeout_sec)
        if proc.returncode != 0:
            raise classify_failure(argv, proc.returncode, proc.stderr.decode(errors="replace"))
        return _lines(proc.stdout)

    def call(self, argv: list[str], *, timeout_sec: float | None = None) -> Reply:
        """Like ``run``, but a command tmux refused is a ``Reply`` with ``ok=False`` (broken
        machinery still raises ``TransportError``)."""
        proc = self._process(argv, timeout_sec)
        if proc.returncode == 0:
            return Reply(True, _lines(proc.stdout), [])
        err = proc.stderr.decode(errors="replace")
        failure = classify_failure(argv, proc.returncode, err)
        if isinstance(failure, TransportError):
            raise failure
        return Reply(False, _lines(proc.stdout), [ln for ln in err.split("\n") if ln])

    def _process(self, argv: list[str], timeout_sec: float | None
                 ) -> subprocess.CompletedProcess[bytes]:
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
        return proc

    def close(self) -> None:
        """Nothing to release: each command's process is gone when ``run`` returns."""


def _lines(out: bytes) -> list[str]:
    lines = out.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


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
        """One command on the best transport; a refusal raises ``TmuxCommandError``."""
        primary = self._usable_primary()
        if primary is None:
            return self.secondary.run(argv, timeout_sec=timeout_sec)
        try:
            return primary.run(argv, timeout_sec=timeout_sec)
        except TransportError as exc:
            self._fell_back(exc, idempotent)
            return self.secondary.run(argv, timeout_sec=timeout_sec)

    def call(
        self, argv: list[str], *, timeout_sec: float | None = None, idempotent: bool = False
    ) -> Reply:
        """Like ``run``, but a refusal is a ``Reply`` with ``ok=False`` (libtmux's shape)."""
        primary = self._usable_primary()
        if primary is None:
            return self.secondary.call(argv, timeout_sec=timeout_sec)
        try:
            return primary.call(argv, timeout_sec=timeout_sec)
        except TransportError as exc:
            self._fell_back(exc, idempotent)
            return self.secondary.call(argv, timeout_sec=timeout_sec)

    def _usable_primary(self) -> Transport | None:
        """The channel, or None while it is known to be down (counted as a fallback)."""
        if self.primary is None:
            return None
        if time.monotonic() < self._primary_down_until:
            with self._lock:
                self.fallbacks += 1
            return None
        return self.primary

    def _fell_back(self, exc: TransportError, idempotent: bool) -> None:
        """Decide whether a failed channel command may go to (a): re-raises when not."""
        if isinstance(exc, ChannelUnavailable):
            # could not (re)connect at all: the command was never written; do not pay a
            # connect attempt on every command while the channel stays down
            with self._lock:
                self.fallbacks += 1
                self._primary_down_until = time.monotonic() + self.RETRY_CHANNEL_AFTER_SEC
            return
        if not idempotent:
            raise exc
        with self._lock:
            self.fallbacks += 1

    def close(self) -> None:
        if self.primary is not None:
            self.primary.close()
        self.secondary.close()


def _conformance(host: Host) -> None:
    """mypy proves the exec transport is a Transport (never called)."""
    _t: Transport = ExecTransport(host, "")


__all__ = ["ExecTransport", "FallbackTransport", "Reply", "Transport", "classify_failure"]
