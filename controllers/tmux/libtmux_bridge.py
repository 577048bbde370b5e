"""libtmux's object model over the harness's transports: ``ctl.libtmux_server()``.

Why: libtmux gives users ``Server`` / ``Session`` / ``Window`` / ``Pane`` objects, but runs
every command as a local ``tmux`` process with no timeout. A pane in a container would need a
``docker exec`` per call (~95 ms, and a hung one hangs the caller). :class:`ChannelServer` is
a ``libtmux.Server`` whose commands go to a controller's transport instead: over the control
channel a call costs about what the channel costs (well under a millisecond), and every call
has the transport's timeout.

Where libtmux runs tmux, as read in the installed release (``SUPPORTED``; a test re-reads the
source and fails when a new call site appears):

1. ``Server.cmd``, which ``Session`` / ``Window`` / ``Pane.cmd`` all call: overridden here.
2. ``neo.fetch_objs`` (every ``sessions`` / ``windows`` / ``panes`` list and ``refresh``)
   calls ``neo.tmux_cmd`` itself with ``tmux_bin=server.tmux_bin``.
3. ``common._query_version`` (``tmux -V``, behind ``get_version`` and every
   ``has_gte_version``) calls ``tmux_cmd`` with the same ``tmux_bin``.

(2) and (3) have no method to override, so :func:`install` wraps those two module functions
once: a call whose ``tmux_bin`` is a channel server's key (a name never executed) is answered
by that server; every other call goes to libtmux's own function unchanged, so plain
``libtmux.Server`` objects in the same process behave as before.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import libtmux
from libtmux import common as _common
from libtmux import neo as _neo
from libtmux.common import tmux_cmd

from controllers.tmux.base import Reply
from harness.errors import ConfigError, TransportError

#: libtmux releases whose internals (the three call sites above) this module was read against
SUPPORTED = ("0.62.",)

#: commands that only read, so a channel that died mid-call may repeat them on transport (a)
READ_COMMANDS = frozenset({
    "capture-pane", "display-message", "has-session", "list-buffers", "list-clients",
    "list-commands", "list-keys", "list-panes", "list-sessions", "list-windows",
    "show-buffer", "show-environment", "show-hooks", "show-messages", "show-options",
    "show-window-options",
})

#: global tmux flags libtmux puts before the command (``-S<path>`` or ``-S <path>``, ...)
_GLOBAL_FLAGS_WITH_VALUE = ("-S", "-L", "-f")

#: runs one tmux command (argv after ``tmux -S <sock>``); the flag says "safe to repeat"
Call = Callable[[list[str], bool], Reply]

_SERVERS: weakref.WeakValueDictionary[str, ChannelServer] = weakref.WeakValueDictionary()
_install_lock = threading.Lock()
_installed = False


class ChannelReply(tmux_cmd):
    """A ``tmux_cmd`` result that ran on a transport: the attributes libtmux reads
    (``cmd``, ``stdout``, ``stderr``, ``returncode``), and no process."""

    def __init__(self, cmd: list[str], reply: Reply) -> None:
        # not calling tmux_cmd.__init__: it would start a local tmux process
        self.cmd = cmd
        self.stdout = list(reply.stdout)
        self.stderr = [ln for ln in reply.stderr if ln]
        self.returncode = 0 if reply.ok else 1
        if "has-session" in cmd and self.stderr and not self.stdout:
            self.stdout = [self.stderr[0]]  # what tmux_cmd does for has-session


class ChannelServer(libtmux.Server):
    """A ``libtmux.Server`` whose commands run through ``call`` (a controller's transport).

    ``tmux_bin`` is a unique key, never executed: it is how libtmux's list and version
    queries (which bypass ``cmd``) find their way back here. A refused command is a result
    with ``returncode`` 1 and tmux's words in ``stderr``, as libtmux expects; a transport that
    cannot deliver raises ``TransportError``.
    """

    def __init__(self, call: Call, *, socket_path: str, describe: str = "a harness channel",
                 version: str | None = None) -> None:
        """``version``: the server's tmux version when the caller already knows it (else it
        is asked over the channel on first need)."""
        install()
        super().__init__(socket_path=socket_path)
        self._call = call
        self._describe = describe
        self._version: str | None = version
        self.tmux_bin = f"harness-channel-{uuid.uuid4().hex}"
        _SERVERS[self.tmux_bin] = self

    def __repr__(self) -> str:
        return f"ChannelServer(socket_path={self.socket_path}, via {self._describe})"

    def cmd(self, cmd: str, *args: Any, target: str | int | None = None) -> tmux_cmd:
        argv = [str(cmd), *(["-t", str(target)] if target is not None else []),
                *(str(a) for a in args)]
        return self.run_argv(argv)

    def run_argv(self, argv: list[str]) -> ChannelReply:
        """One tmux command (after ``tmux -S <sock>``) as libtmux's result object."""
        try:
            reply = self._call(argv, argv[0] in READ_COMMANDS)
        except TransportError:
            if argv[0] != "kill-server":
                raise
            # the server took the control channel down with it: what was asked for
            reply = Reply(True, [], [])
        return ChannelReply(["tmux", "-S", str(self.socket_path), *argv], reply)

    def tmux_version(self) -> str:
        """The server's own version (``3.3a``): what ``tmux -V`` would print where it runs,
        asked once over the channel."""
        if self._version is None:
            out = self.run_argv(["display-message", "-p", "#{version}"])
            if out.returncode != 0 or not out.stdout:
                raise TransportError(f"tmux did not tell its version over {self._describe}: "
                                     f"{' '.join(out.stderr)[:200]}")
            self._version = out.stdout[0].strip()
        return self._version

    def raise_if_dead(self) -> None:
        """libtmux runs a local ``tmux list-sessions`` here; ask over the channel instead
        (raises ``TransportError`` when the server cannot be reached)."""
        self.run_argv(["list-sessions"])


def _server_for(tmux_bin: object) -> ChannelServer | None:
    return _SERVERS.get(tmux_bin) if isinstance(tmux_bin, str) else None


def _command_argv(args: tuple[Any, ...]) -> list[str]:
    """Drop the global flags libtmux puts before the command; the transport adds its own."""
    words = [str(a) for a in args]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in _GLOBAL_FLAGS_WITH_VALUE else 1
    return words[i:]


def check_supported(version: str = libtmux.__version__) -> None:
    """Refuse a libtmux whose internals were not read (its call sites may have moved)."""
    if not version.startswith(SUPPORTED) or not callable(getattr(_common, "_query_version", None)) \
            or not callable(getattr(_neo, "tmux_cmd", None)):
        raise ConfigError(
            f"libtmux {version} is not supported by the harness's channel server "
            f"(read against {', '.join(v + 'x' for v in SUPPORTED)})",
            hint=f"install libtmux {SUPPORTED[0]}x",
        )


def install() -> None:
    """Route libtmux's two direct tmux calls for channel servers (once, thread-safe)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        check_supported()
        query_version = _common._query_version
        neo_tmux_cmd = _neo.tmux_cmd

        def routed_query_version(tmux_bin: str | None = None) -> str:
            server = _server_for(tmux_bin)
            return query_version(tmux_bin=tmux_bin) if server is None else server.tmux_version()

        def routed_tmux_cmd(*args: Any, tmux_bin: str | None = None) -> tmux_cmd:
            server = _server_for(tmux_bin)
            if server is None:
                return neo_tmux_cmd(*args, tmux_bin=tmux_bin)
            return server.run_argv(_command_argv(args))

        _common._query_version = routed_query_version  # type: ignore[assignment]
        _neo.tmux_cmd = routed_tmux_cmd  # type: ignore[assignment, misc]
        _installed = True


__all__ = ["READ_COMMANDS", "SUPPORTED", "ChannelReply", "ChannelServer", "check_supported",
           "install"]
