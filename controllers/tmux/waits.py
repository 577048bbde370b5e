"""Wait strategies, written against the controller and polled through one helper.

Why strategies: "the prompt is back", "the screen went quiet", "the hook signalled",
"the process exited" are combined differently by each agent profile (``AnyOf(Signal(..),
ProcessExited())``). Each is a small object with ``start`` / ``check`` / ``stop``; :func:`poll`
is the only loop that sleeps, and every wait has a timeout that raises ``WaitTimeout`` with
what it waited for and the last screen.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from controllers.tmux.argv import SIGNAL_NOTIFICATION, signal_board_name
from controllers.tmux.base import Controller
from harness.errors import ConfigError, ControllerError, PaneDead, WaitTimeout

#: what a shell prompt looks like on the last non-blank line: ``$``, ``#``, ``%`` or ``>``
SHELL_PROMPT = r"[$#%>] ?$"


def compile_regex(pattern: str | re.Pattern[str], what: str) -> re.Pattern[str]:
    """Compile a user regex, turning a bad one into a ConfigError that names it."""
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ConfigError(f"{what}: invalid regex {pattern!r}: {exc}") from exc


class Strategy(Protocol):
    def describe(self) -> str: ...

    def start(self, ctl: Controller) -> None: ...

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        """A non-None value ends the wait and is returned by ``poll``."""
        ...

    def stop(self) -> None: ...


class _Base:
    def start(self, ctl: Controller) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class ScreenMatches(_Base):
    """The (visible or whole-history) screen matches a regex; returns the match."""

    pattern: str | re.Pattern[str]
    history: bool = False
    last_lines: int | None = None

    def __post_init__(self) -> None:
        self.regex = compile_regex(self.pattern, "wait pattern")

    def describe(self) -> str:
        return f"screen to match /{self.regex.pattern}/"

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        text = ctl.capture_pane(history=True) if self.history else screen
        if self.last_lines:
            text = "\n".join(text.rstrip().splitlines()[-self.last_lines :])
        return self.regex.search(text)


@dataclass
class ScreenStable(_Base):
    """The screen's content hash (after masking clocks and spinners) has not changed for
    ``stable_for_sec``, and no ``busy`` regex matches. Returns the screen."""

    stable_for_sec: float = 1.0
    ignore: Sequence[str | re.Pattern[str]] = ()
    busy: Sequence[str | re.Pattern[str]] = ()
    _masks: list[re.Pattern[str]] = field(default_factory=list, init=False)
    _busy: list[re.Pattern[str]] = field(default_factory=list, init=False)
    _digest: bytes = field(default=b"", init=False)
    _since: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.stable_for_sec <= 0:
            raise ConfigError(f"stable_for_sec must be > 0, got {self.stable_for_sec}")
        self._masks = [compile_regex(p, "idle ignore mask") for p in self.ignore]
        self._busy = [compile_regex(p, "idle busy marker") for p in self.busy]

    def describe(self) -> str:
        extra = f", busy markers {[b.pattern for b in self._busy]}" if self._busy else ""
        return f"screen idle for {self.stable_for_sec:g}s{extra}"

    def start(self, ctl: Controller) -> None:
        self._digest, self._since = b"", 0.0

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        masked = screen
        for m in self._masks:
            masked = m.sub("\x00", masked)
        digest = hashlib.sha256(masked.encode()).digest()
        if any(b.search(screen) for b in self._busy):
            self._digest = b""  # a busy screen never counts toward stability
            return None
        if digest != self._digest:
            self._digest, self._since = digest, now
            return None
        return screen if now - self._since >= self.stable_for_sec else None


@dataclass
class OutputQuiet(_Base):
    """The program finished drawing: the pane printed nothing for ``quiet_sec`` and ``ready``
    (when given) accepts the screen, e.g. the CLI's idle prompt is back; a screen ``ready``
    never accepts is taken after ``unready_quiet_sec`` of quiet. While the pane is recorded,
    "printed nothing" is the recorder's last-output time (a pane that prints the same
    lines over and over is not quiet); otherwise the screen must hold still.

    ``cpu_probe`` (CPU seconds the pane's processes used so far, or None when unknown) adds
    "and they used at most ``max_cpu_share`` of a core over the last ``cpu_window_sec``": a
    CLI that is still laying out a long answer prints nothing for seconds on a busy machine
    while its idle prompt from before the turn is still on screen. Returns the screen."""

    quiet_sec: float = 0.5
    ready: Callable[[str], bool] | None = None
    unready_quiet_sec: float = 2.0
    cpu_probe: Callable[[], float | None] | None = None
    cpu_window_sec: float = 0.3
    max_cpu_share: float = 0.25
    _screen: str | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)
    _cpu: tuple[float, float] | None = field(default=None, init=False)

    def describe(self) -> str:
        return f"the pane to print nothing for {self.quiet_sec:g}s"

    def start(self, ctl: Controller) -> None:
        self._screen, self._since, self._cpu = None, 0.0, None

    def _cpu_idle(self, now: float) -> bool:
        """Two samples at least a window apart, the later one kept for the next window."""
        if self.cpu_probe is None:
            return True
        if self._cpu is not None and now - self._cpu[0] < self.cpu_window_sec:
            return False
        used = self.cpu_probe()
        if used is None:
            self.cpu_probe = None  # cannot be read here: quiet output alone decides
            return True
        before, self._cpu = self._cpu, (now, used)
        return before is not None and (used - before[1]) <= self.max_cpu_share * (now - before[0])

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        if self._cpu is None and self.cpu_probe is not None:
            self._cpu_idle(now)  # the first sample, so one window may pass while output ends
        if screen != self._screen:
            self._screen, self._since = screen, now
        recorder = ctl.recorder  # every byte the pane printed passes it, with its time
        last = recorder.last_output_at if recorder is not None else self._since
        quiet = now - last
        if quiet < self.quiet_sec:
            return None
        if self.ready is None or self.ready(screen) or quiet >= self.unready_quiet_sec:
            return screen if self._cpu_idle(now) else None
        return None


@dataclass
class ProcessExited(_Base):
    """The pane's process exited; returns its exit status (128+N for a signal; -1 when
    tmux could not tell)."""

    def describe(self) -> str:
        return "the pane's process to exit"

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        st = ctl.pane_state()
        if not st.dead:
            return None
        return st.exit_status if st.exit_status is not None else -1


@dataclass
class Signal(_Base):
    """Someone fired ``channel`` (``TmuxController.signal_command``, e.g. an agent's hook).

    With a control channel the wait costs nothing: the firing renames the server's signal
    board window and tmux tells every control client at once (``%unlinked-window-renamed``).
    If that channel reconnected meanwhile (a notification may be lost), the board's name is
    read instead. Without a control channel, ``tmux wait-for <channel>`` runs as its own
    process (a blocking wait-for would stall a control channel), its timeout enforced inside
    the sandbox by ``timeout -k``. Channels must be unique per wait
    (``TmuxController.new_channel``): tmux latches a signal nobody waited for.
    """

    channel: str
    max_sec: float = 3600.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _fired: threading.Event = field(default_factory=threading.Event, init=False)
    _unsubscribe: Any = field(default=None, init=False)
    _channel: Any = field(default=None, init=False)
    _connects: int = field(default=0, init=False)
    _board_read_at: float = field(default=0.0, init=False)

    def describe(self) -> str:
        return f"signal on tmux channel {self.channel!r}"

    def start(self, ctl: Controller) -> None:
        self._fired.clear()
        channel = ctl.notification_feed()
        if channel is not None:
            self._channel, self._connects = channel, channel.connects
            self._unsubscribe = channel.add_notification_listener(self._on_notification)
            return
        argv = ctl.host_tmux_argv(["wait-for", self.channel], timeout_sec=self.max_sec)
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)

    @property
    def waits_on_event(self) -> bool:
        """True when firing is delivered by notification (``wait`` can block on it)."""
        return self._channel is not None

    def wait(self, timeout_sec: float) -> bool:
        """Block up to ``timeout_sec`` for the notification; False at once on the process
        path (poll ``check`` there). ``check`` stays the source of truth either way."""
        if self._channel is None:
            return False
        # wake at least twice a second: a channel that went down is read by ``check``
        return self._fired.wait(min(timeout_sec, 0.5))

    def _on_notification(self, name: str, args: bytes) -> None:
        if name == SIGNAL_NOTIFICATION and args.partition(b" ")[2].decode(errors="replace") == self.channel:
            self._fired.set()

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        if self._fired.is_set():
            return self.channel
        if self._channel is not None:
            # a notification sent while the channel was down is lost: read the board once
            # after a reconnect, and at most twice a second while it stays down
            reconnected = self._channel.connects != self._connects
            if reconnected or (not self._channel.alive() and now - self._board_read_at >= 0.5):
                self._connects, self._board_read_at = self._channel.connects, now
                try:
                    if ctl.tmux(signal_board_name(), idempotent=True)[:1] == [self.channel]:
                        self._fired.set()
                        return self.channel
                except ControllerError:
                    pass
            return None
        if self._proc is None or self._proc.poll() is None:
            return None
        return self.channel if self._proc.returncode == 0 else None

    def stop(self) -> None:
        unsubscribe, self._unsubscribe, self._channel = self._unsubscribe, None, None
        if unsubscribe is not None:
            unsubscribe()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


class AnyOf(_Base):
    """The first of several strategies to fire; returns ``(index, value)``."""

    def __init__(self, *strategies: Strategy) -> None:
        if not strategies:
            raise ConfigError("AnyOf needs at least one strategy")
        self.strategies = strategies

    def describe(self) -> str:
        return " or ".join(s.describe() for s in self.strategies)

    def start(self, ctl: Controller) -> None:
        for s in self.strategies:
            s.start(ctl)

    def check(self, ctl: Controller, screen: str, now: float) -> Any | None:
        for i, s in enumerate(self.strategies):
            value = s.check(ctl, screen, now)
            if value is not None:
                return (i, value)
        return None

    def stop(self) -> None:
        for s in self.strategies:
            s.stop()


def poll(
    ctl: Controller,
    strategy: Strategy,
    *,
    timeout_sec: float,
    poll_interval_sec: float = 0.1,
    fail_on_exit: bool = True,
) -> Any:
    """The one polling loop: capture, check, sleep, until the strategy fires or time runs out.

    ``fail_on_exit`` raises ``PaneDead`` (with the exit status and last screen) as soon as the
    pane's process is gone and the strategy has not fired on its final screen.
    """
    if timeout_sec <= 0 or poll_interval_sec <= 0:
        raise ConfigError("timeout_sec and poll_interval_sec must be > 0")
    deadline = time.monotonic() + timeout_sec
    screen = ""
    strategy.start(ctl)
    try:
        while True:
            now = time.monotonic()
            screen = ctl.capture_pane()
            value = strategy.check(ctl, screen, now)
            if value is not None:
                return value
            if fail_on_exit and not isinstance(strategy, ProcessExited):
                st = ctl.pane_state()
                if st.dead:
                    raise PaneDead(
                        f"pane exited (status {st.exit_status}) while waiting for "
                        f"{strategy.describe()}",
                        exit_status=st.exit_status, screen=ctl.capture_pane(),
                    )
            if now >= deadline:
                raise WaitTimeout(strategy.describe(), timeout_sec, screen)
            time.sleep(min(poll_interval_sec, max(deadline - time.monotonic(), 0.0)) or 0.001)
    finally:
        strategy.stop()
