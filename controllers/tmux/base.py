"""The small shared types of the tmux layer, so every module imports downwards only.

Why a module of its own: the transports, the control channel, the waits and the shell
helper all need a word for "a transport", "the channel is down" or "a controller", and the
controller needs all of them. With those words here, the import graph of
``controllers.tmux`` is a tree (a test proves it): ``base`` and ``argv`` at the bottom, the
controller at the top, no module reaching back up (not even under ``TYPE_CHECKING``).

Everything defined here is re-exported where it used to live (``transport.Transport``,
``control.ChannelUnavailable``, ``controller.PaneState``), so old import paths keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.errors import TransportError


class ChannelUnavailable(TransportError):
    """The control channel could not be (re)connected; nothing was sent on it."""


@dataclass(frozen=True)
class Reply:
    """One tmux command's answer as a value: ``ok`` (tmux said ``%end`` / exit 0), its
    output lines, and tmux's own complaint lines when it refused the command. What
    libtmux's ``tmux_cmd`` carries, without raising for a refused command."""

    ok: bool
    stdout: list[str]
    stderr: list[str]


@runtime_checkable
class Transport(Protocol):
    """Run one tmux command (argv after ``tmux -S <sock>``) and return stdout lines.

    ``run`` raises ``TmuxCommandError`` when tmux rejected the command; ``call`` returns that
    as a :class:`Reply` instead. Both raise ``TransportError`` when the command could not be
    delivered or answered in ``timeout_sec``.
    """

    name: str

    def run(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]: ...

    def call(self, argv: list[str], *, timeout_sec: float | None = None) -> Reply: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PaneState:
    """One ``display-message`` round trip: liveness, exit status, cursor, size, history."""

    dead: bool
    exit_status: int | None
    pid: int | None
    cursor_x: int
    cursor_y: int
    width: int
    height: int
    history_size: int


NotificationListener = Callable[[str, bytes], None]


class NotificationFeed(Protocol):
    """What a wait needs of the control channel: its reconnect count, liveness, and
    notifications (the control channel is one)."""

    connects: int

    def alive(self) -> bool: ...

    def add_notification_listener(self, listener: NotificationListener) -> Callable[[], None]:
        ...


class OutputClock(Protocol):
    """When the pane last printed (the recorder is one)."""

    @property
    def last_output_at(self) -> float: ...


class Controller(Protocol):
    """What the waits and the shell helper use of a controller (``TmuxController`` is one).

    Why a Protocol and not the class: the waits are written against the controller, and the
    controller calls the waits; typing them against this keeps the import graph one-way.
    """

    pane_id: str

    @property
    def recorder(self) -> OutputClock | None: ...

    def tmux(self, argv: list[str], *, idempotent: bool = False,
             timeout_sec: float | None = None) -> list[str]: ...

    def host_tmux_argv(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]:
        ...

    def capture_pane(self, *, history: bool = False, join_wrapped: bool = True,
                     escapes: bool = False) -> str: ...

    def pane_state(self, *, settle_sec: float = 2.0) -> PaneState: ...

    def notification_feed(self) -> NotificationFeed | None: ...

    def send_keys(self, text: str, *, enter: bool = True, delay_enter: float = 0.1,
                  literal: bool = True, enter_check_sec: float = 1.0,
                  enter_retries: int = 2) -> None: ...

    def wait_for_text(self, pattern: str | re.Pattern[str], *, regex: bool = False,
                      timeout_sec: float = 30.0, history: bool = False) -> re.Match[str]: ...

    def interrupt(self) -> None: ...
