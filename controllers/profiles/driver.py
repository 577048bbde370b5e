"""Driving one agent CLI session in a tmux pane: ready, send a turn, know when it is done.

Completion, best signal first:
1. the CLI's own hook (claude ``Stop``, codex ``notify``) runs ``harness-hook``, which
   signals a tmux ``wait-for`` channel armed fresh for this turn;
2. the screen state machine: busy markers veto; the idle prompt must hold for
   ``debounce_sec`` after the agent was seen busy (or after ``quiet_sec`` without ever
   seeing it busy, for turns too quick to catch);
3. the turn deadline: the agent is interrupted and the outcome is ``timeout``.
Dialogs the profile knows are answered whenever they show (and logged); a menu it does
not know ends the session as ``blocked`` with the screen attached, never a blind Enter.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from controllers.profiles.base import FollowUp, ProfileSpec, ScreenKind
from controllers.profiles.common import wait_levers
from controllers.sandbox.base import Sandbox
from controllers.tmux.waits import Signal
from harness.errors import AgentError, ControllerError

log = logging.getLogger(__name__)
#: the tmux server option naming the channel harness-hook fires (hook.sh reads it)
CHANNEL_OPTION = "@harness-channel"


@dataclass
class TurnOutcome:
    """How one turn ended. ``how``: signal | screen | timeout | exited | blocked | aborted
    (``abort`` said the turn cannot succeed, e.g. the model API refused the key)."""

    how: str
    seconds: float
    done_at: float  # time.time() when the harness decided
    screen: str = ""
    detail: str = ""


@dataclass
class DriverLog:
    dialogs: list[str] = field(default_factory=list)

    def note(self, msg: str) -> None:
        log.info(msg)
        self.dialogs.append(msg)


class AgentDriver:
    """One session of one CLI in one controller (``TmuxController``)."""

    def __init__(self, spec: ProfileSpec, ctl: Any, box: Sandbox, *, poll_sec: float = 0.05,
                 debounce_sec: float = 1.5, quiet_sec: float = 4.0, use_signal: bool = True,
                 use_screen: bool = True, activity: Any = None, abort: Any = None,
                 waiting: Any = None) -> None:
        self.spec, self.ctl, self.box = spec, ctl, box
        self.poll_sec, self.debounce_sec, self.quiet_sec = poll_sec, debounce_sec, quiet_sec
        self.use_signal, self.use_screen = use_signal, use_screen
        self.log = DriverLog()
        self._masks = [re.compile(m) for m in spec.idle_masks]
        self._sig: Signal | None = None
        self.activity = activity  # () -> requests the Gateway saw from this trial
        #: () -> a reason to give up on the turn now, or None (asked every ``abort_check_sec``)
        self.abort = abort
        self.abort_check_sec = 0.5
        #: () -> seconds this trial's model request has been open with nothing sent back
        #: (the Gateway's ``waiting_sec``); after ``waiting_after_sec`` of that, the screen is
        #: read every ``waiting_poll_sec``: it cannot change before the model answers, and
        #: reading it 20 times a second was most of what the harness spent on a waiting trial
        self.waiting = waiting
        self.waiting_after_sec, self.waiting_poll_sec = 0.5, 0.5
        self._abort_at = float("-inf")
        self.signal_settle_sec = spec.signal_settle_sec
        self.turn_started = False
        self.dead_check_sec = 0.25
        self._alive_at = float("-inf")
        #: the last screen read, the recorder's last-output time before that read, and when
        #: (:meth:`_screen`); a screen is read again at least every ``screen_max_age_sec``
        self._seen: tuple[str, float, float] | None = None
        self.screen_max_age_sec = 1.0

    # ------------------------------------------------------------------ helpers

    def _answer(self, screen: str) -> bool:
        st = self.spec.classify(screen)
        if st.kind is not ScreenKind.DIALOG or st.dialog is None:
            return False
        d = st.dialog
        self.log.note(f"dialog {d.name!r}: chose {d.choice} ({' '.join(d.keys)})")
        for k in d.keys:
            self.ctl.send_key(k)
            time.sleep(0.15)
        time.sleep(0.3)
        return True

    def _dead(self) -> tuple[bool, int | None]:
        """Whether the CLI's process exited (and how). Asked at most every
        ``dead_check_sec`` while it lives: a crash is rare, the polls are many."""
        now = time.monotonic()
        if now - self._alive_at < self.dead_check_sec:
            return False, None
        try:
            alive = self.ctl.is_alive()
        except ControllerError:
            return True, None
        if alive:
            self._alive_at = now
        return (not alive), (None if alive else self.ctl.exit_status())

    # ------------------------------------------------------------------ ready

    def wait_ready(self, timeout_sec: float = 90.0) -> float:
        """Until the input prompt shows (answering known dialogs). Returns seconds taken."""
        t0 = time.monotonic()
        blocked_since: float | None = None
        screen = ""
        while time.monotonic() - t0 < timeout_sec:
            screen = self.ctl.capture_pane()
            dead, status = self._dead()
            if dead:
                raise AgentError(f"{self.spec.name} exited during start-up (status {status})", screen=screen)
            if self._answer(screen):
                continue
            st = self.spec.classify(screen)
            if st.kind is ScreenKind.IDLE:
                return time.monotonic() - t0
            if st.kind is ScreenKind.BLOCKED:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 3.0:
                    raise AgentError(f"{self.spec.name} shows a dialog the harness does not know: {st.detail!r}",
                                     screen=screen, hint="add it to the profile's dialogs table")
            else:
                blocked_since = None
            time.sleep(0.1)
        raise AgentError(f"{self.spec.name} did not show its input prompt within {timeout_sec:g}s",
                         screen=screen, hint="see the screen in pane.txt")

    # ------------------------------------------------------------------ turns

    def arm(self) -> Signal | None:
        """A fresh channel for the hook to signal, in the tmux server option harness-hook
        reads (a server round trip, where writing a file would cost an engine call)."""
        if not self.use_signal:
            return None
        channel = self.ctl.new_channel("turn")
        self.ctl.tmux(["set-option", "-g", CHANNEL_OPTION, channel])
        sig = Signal(channel)
        sig.start(self.ctl)
        return sig

    def _settle(self, quiet_sec: float = 0.3, max_sec: float = 3.0) -> str:
        """Until the screen stops changing (the CLI finished drawing what we typed)."""
        t_end = time.monotonic() + max_sec
        last, since = self.ctl.capture_pane(), time.monotonic()
        while time.monotonic() < t_end:
            time.sleep(0.05)
            now = self.ctl.capture_pane()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_sec:
                break
        return last

    def _started(self, requests_before: int) -> bool:
        """Structured proof the turn began: the model was asked, or the CLI shows busy."""
        if self.activity is not None and self.activity() > requests_before:
            return True
        return self.spec.classify(self.ctl.capture_pane()).kind is ScreenKind.BUSY

    def send(self, text: str, *, presses: int = 4, check_sec: float = 3.0) -> None:
        """Paste the prompt as one bracketed paste, let it render, then Enter until taken.

        Typing and Enter in one burst loses the Enter to the CLIs' paste detection, and a
        screen that changes is no proof (it may still be drawing the text), so "taken" means
        the Gateway saw a request from this trial or the CLI went busy.
        """
        before = self.activity() if self.activity is not None else 0
        self.ctl.paste(text, enter=False)
        self._settle(quiet_sec=0.5)
        for i in range(presses):
            self.ctl.send_key("Enter")
            t_end = time.monotonic() + check_sec
            while time.monotonic() < t_end:
                if self._started(before):
                    self.turn_started = True
                    return
                time.sleep(0.05)
            self.log.note(f"prompt not taken after Enter #{i + 1}; pressing again")
        raise AgentError(f"{self.spec.name} did not take the prompt after {presses} Enter presses",
                         screen=self.ctl.capture_pane(), hint="see pane.txt; the CLI may be blocked")

    def run_turn(self, text: str, *, timeout_sec: float) -> TurnOutcome:
        """Send one user turn and wait until it is done (see the module docstring). A CLI
        with a ``follow_up`` that stopped after a reply whose commands ran is told to go on
        (the outcome is its last stop's, the time the whole turn's)."""
        t0 = time.monotonic()
        out = self._send_and_wait(text, timeout_sec)
        fu = self.spec.follow_up
        rounds = 0
        while fu is not None and out.how in ("signal", "screen") and self._follow_up_due(fu):
            left = timeout_sec - (time.monotonic() - t0)
            if rounds >= fu.rounds or left <= 1.0:
                self.log.note(f"turn stopped after {rounds} follow-ups with a command's output unread "
                              f"({'the limit' if rounds >= fu.rounds else 'no time left'})")
                break
            rounds += 1
            self.log.note(f"follow-up {rounds}: the reply ran a command; typed the continue message")
            out = self._send_and_wait(fu.text, left)
        return TurnOutcome(out.how, time.monotonic() - t0, out.done_at, out.screen, out.detail)

    def _follow_up_due(self, fu: FollowUp) -> bool:
        """Whether the CLI's history says its last reply ran a command (one exec)."""
        r = self.box.exec(["cat", fu.history], timeout_sec=30.0)
        return r.ok and fu.due(r.stdout)

    def _send_and_wait(self, text: str, timeout_sec: float) -> TurnOutcome:
        self._sig = self.arm()
        self.turn_started = False
        t_sent = time.monotonic()
        try:
            self.send(text)
            return self._wait_done(self._sig, t_sent, timeout_sec)
        finally:
            if self._sig is not None:
                self._sig.stop()

    def _leaves_busy(self, within_sec: float) -> str | None:
        """The screen once it is not busy, or None if it stays busy for ``within_sec``. A
        known dialog counts as busy: the turn goes on once it is answered (aider's
        notification fires at the first question it asks after a reply, not only at its
        input prompt)."""
        t_end = time.monotonic() + within_sec
        while True:
            screen = self.ctl.capture_pane()
            if self.spec.classify(screen).kind not in (ScreenKind.BUSY, ScreenKind.DIALOG):
                return screen
            if time.monotonic() >= t_end:
                return None
            time.sleep(0.02)

    def _masked(self, screen: str) -> str:
        for m in self._masks:
            screen = m.sub("", screen)
        return screen

    def _wait_done(self, sig: Signal | None, t0: float, timeout_sec: float) -> TurnOutcome:
        saw_busy = False
        idle_since: float | None = None
        idle_screen = ""
        blocked_since: float | None = None
        screen = ""
        while True:
            now = time.monotonic()
            if sig is not None and sig.check(self.ctl, "", now) is not None:
                # claude runs its Stop hook inside the turn, before it redraws idle: give the
                # screen a moment to follow; still busy after that means a side thread fired
                settled = self._leaves_busy(self.signal_settle_sec)
                if settled is not None:
                    return TurnOutcome("signal", time.monotonic() - t0, time.time(), settled)
                # a hook fired while the agent still works (a side thread): wait for the next
                self.log.note("completion signal while the screen is busy: ignored, re-armed")
                sig.stop()
                sig = self._sig = self.arm()
                continue
            screen = self._screen()
            dead, status = self._dead()
            if dead:
                return TurnOutcome("exited", now - t0, time.time(), screen, f"exit status {status}")
            why = self._aborted(now)
            if why:
                return TurnOutcome("aborted", now - t0, time.time(), screen, why)
            if self._answer(screen):
                idle_since = None
                continue
            st = self.spec.classify(screen)
            if st.kind is ScreenKind.BUSY:
                saw_busy, idle_since = True, None
            elif st.kind is ScreenKind.IDLE and self.use_screen:
                masked = self._masked(screen)
                if idle_since is None or masked != idle_screen:
                    idle_since, idle_screen = now, masked
                needed = self.debounce_sec if saw_busy else self.quiet_sec
                if (saw_busy or self.turn_started) and now - idle_since >= needed:
                    return TurnOutcome("screen", now - t0, time.time(), screen)
            elif st.kind is ScreenKind.BLOCKED:
                blocked_since = blocked_since or now
                if now - blocked_since > 3.0:
                    return TurnOutcome("blocked", now - t0, time.time(), screen, st.detail)
            if st.kind is not ScreenKind.BLOCKED:
                blocked_since = None
            if now - t0 >= timeout_sec:
                self.interrupt()
                return TurnOutcome("timeout", now - t0, time.time(), self.ctl.capture_pane())
            self._nap(sig, self._poll_interval())

    def _poll_interval(self) -> float:
        """``poll_sec``, or ``waiting_poll_sec`` while the model has not answered yet. The
        completion signal still wakes the nap at once, and a byte from the model brings the
        fast polling back at the next read."""
        if self.waiting is None or not wait_levers():
            return self.poll_sec
        return self.waiting_poll_sec if self.waiting() >= self.waiting_after_sec else self.poll_sec

    def _screen(self) -> str:
        """The pane's screen; read again only when the pane printed since the last read.

        Why: the turn loop polls 20 times a second and most polls found the same screen
        (a CLI running a tool, or told not to animate, prints nothing for seconds), each read
        a round trip through the engine. The recorder sees every byte the pane prints, so an
        unchanged last-output time means an unchanged screen; its time is taken before the
        read, so output racing the read makes the next poll read again. A screen older than
        ``screen_max_age_sec`` is read regardless (a recorder that stopped cannot hide a
        change for longer)."""
        rec = self.ctl.recorder if wait_levers() else None
        now = time.monotonic()
        mark = rec.last_output_at if rec is not None else None
        if mark is not None and self._seen is not None:
            screen, seen_mark, at = self._seen
            if seen_mark == mark and now - at < self.screen_max_age_sec:
                return screen
        screen = self.ctl.capture_pane()
        self._seen = (screen, mark, now) if mark is not None else None
        return screen

    def _aborted(self, now: float) -> str | None:
        if self.abort is None or now - self._abort_at < self.abort_check_sec:
            return None
        self._abort_at = now
        return self.abort()  # type: ignore[no-any-return]

    def _nap(self, sig: Signal | None, sec: float) -> None:
        """Sleep ``sec`` between screen polls, but wake as soon as the signal fires (a plain
        sleep added up to ``poll_sec`` of latency)."""
        if sig is None:
            time.sleep(sec)
            return
        t_end = time.monotonic() + sec
        while sig.check(self.ctl, "", time.monotonic()) is None:
            left = t_end - time.monotonic()
            if left <= 0:
                return
            if sig.wait(left):  # notification path: blocks on an event, no busy loop
                return
            if not sig.waits_on_event:
                time.sleep(min(left, 0.005))  # process path: one waitpid per 5 ms

    def interrupt(self) -> None:
        """Escape (both CLIs stop the turn on it), then C-c if still busy."""
        try:
            self.ctl.send_key("Escape")
            time.sleep(0.5)
            if self.spec.classify(self.ctl.capture_pane()).kind is ScreenKind.BUSY:
                self.ctl.interrupt()
        except ControllerError:
            pass
