"""The Controller: one tmux server, one session, one pane running one program.

Why one pane per server: a Trial owns its tmux server outright (own socket, own options),
so killing it cannot touch anyone else's, and ``harness attach`` has one obvious target.
(The server also holds a hidden ``harness-signal`` session: renaming its window is how a
hook tells the control channel a turn is done, see ``argv.fire_signal``.)

Commands go through :class:`FallbackTransport`: the control channel (b) first, one process
per command (a) when it cannot connect. ``transport="exec"`` forces (a) (the reference).
``libtmux_server()`` gives user code libtmux's object model over the same transport.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from controllers.tmux import argv as T
from controllers.tmux import waits as W
from controllers.tmux.base import Controller, PaneState
from controllers.tmux.control import ControlTransport, OutputListener
from controllers.tmux.hosts import ContainerHost, Host, LocalHost, host_for, socket_path_for
from controllers.tmux.record import AsciicastRecorder, initial_screen
from controllers.tmux.shell import ShellResult, run_in_shell
from controllers.tmux.transport import ExecTransport, FallbackTransport
from harness.errors import ControllerError, HarnessError, PaneDead, SendKeysError

if TYPE_CHECKING:  # libtmux is imported when libtmux_server() is first called
    from libtmux.pane import Pane

    from controllers.tmux.libtmux_bridge import ChannelServer

TransportKind = Literal["control", "exec"]


def _int(s: str) -> int | None:
    return int(s) if s.strip().lstrip("-").isdigit() else None


class TmuxController:
    """Drives one pane. Use as a context manager; ``close()`` kills the server (safe twice).

    Broken machinery raises ``TransportError`` / ``TmuxCommandError``; waits raise
    ``WaitTimeout`` (with the last screen) or ``PaneDead``; text that cannot be sent exactly
    raises ``SendKeysError``.
    """

    def __init__(
        self,
        host: Host | None = None,
        *,
        session: str | None = None,
        socket_path: str | None = None,
        tmux_bin: str = "tmux",
        transport: TransportKind = "control",
        command_timeout_sec: float = 10.0,
        options: T.ServerOptions | None = None,
    ) -> None:
        if transport not in ("control", "exec"):
            raise ValueError(f"transport must be 'control' or 'exec', not {transport!r}")
        self.host: Host = host or LocalHost()
        self.session = session or f"h{uuid.uuid4().hex[:10]}"
        self.tmux_bin = tmux_bin
        self.transport_kind = transport
        self.command_timeout_sec = command_timeout_sec
        self.options = options or T.ServerOptions()
        self._socket_path = socket_path
        self.pane_id = ""
        self.width = self.height = 0
        self._transport: FallbackTransport | None = None
        self._recorder: AsciicastRecorder | None = None
        self._captures: dict[tuple[bool, bool, bool], tuple[tuple[int, int], str]] = {}
        self._libtmux: ChannelServer | None = None
        self._state = "new"

    # ------------------------------------------------------------------ lifecycle

    @property
    def socket_path(self) -> str:
        if self._socket_path is None:
            self._socket_path = socket_path_for(self.host, self.session)
        return self._socket_path

    def start(
        self,
        command: list[str] | str,
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        width: int = 200,
        height: int = 50,
    ) -> TmuxController:
        """Start the server and the pane. Options are set before the pane exists."""
        seq = self._start_sequence(command, env=env, cwd=cwd, width=width, height=height)
        try:
            self._start_pane(seq, command, env=env, cwd=cwd)
        except Exception:
            if self._state != "closed":
                self._state = "started"
                self.close()
            raise
        return self

    def _start_pane(self, seq: list[str], command: list[str] | str, *, env: dict[str, str] | None,
                    cwd: str | None) -> None:
        """Run the start sequence ``seq`` in one process (each costs a ``docker exec`` in a
        container); ``started`` takes the pane id it printed."""
        del command, env, cwd  # all in ``seq``
        self.started(self._exec_transport().run(seq))

    def start_argv(
        self,
        command: list[str] | str,
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        width: int = 200,
        height: int = 50,
    ) -> list[str]:
        """The argv ``start`` runs where tmux lives, for a caller that runs it inside a
        process of its own (the runner's one exec per trial); then call ``started``."""
        seq = self._start_sequence(command, env=env, cwd=cwd, width=width, height=height)
        return [*T.tmux_prefix(self.tmux_bin, self.socket_path), *seq]

    def _start_sequence(self, command: list[str] | str, *, env: dict[str, str] | None, cwd: str | None,
                        width: int, height: int) -> list[str]:
        """The start's tmux command sequence (after ``tmux -S <sock>``); marks it begun."""
        if self._state != "new":
            raise ControllerError(f"controller is {self._state}; start() runs once")
        cmd = [command] if isinstance(command, str) else list(command)
        seq = T.start_server_sequence(self.session, cmd, width=width, height=height, cwd=cwd,
                                      env=env, options=self.options)
        self._state = "starting"
        self.width, self.height = width, height
        return seq

    def started(self, output: list[str]) -> TmuxController:
        """Finish a start from what ``start_argv`` printed (its last line is the pane id)."""
        if self._state != "starting":
            raise ControllerError(f"controller is {self._state}; call start_argv() first")
        self._state = "started"
        out = [ln.strip() for ln in output if ln.strip()]
        if not out or not out[-1].startswith("%"):
            self.close()
            raise ControllerError(f"tmux started but printed no pane id: {out[-3:]!r}")
        self.pane_id = out[-1]
        control = self._control_channel() if self.transport_kind == "control" else None
        self._transport = FallbackTransport(control, self._exec_transport())
        return self

    def _exec_transport(self) -> ExecTransport:
        return ExecTransport(self.host, self.socket_path, tmux_bin=self.tmux_bin,
                             timeout_sec=max(self.command_timeout_sec, 15.0))

    def _control_channel(self, *, want_output: bool = False,
                         on_output: OutputListener | None = None) -> ControlTransport:
        return ControlTransport(self.host, self.socket_path, self.session,
                                tmux_bin=self.tmux_bin, timeout_sec=self.command_timeout_sec,
                                want_output=want_output, on_output=on_output)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, *, kill_server: bool = True) -> None:
        """Stop recording, kill the tmux server, release both transports (safe twice).

        ``kill_server=False`` leaves the server to whoever owns the container next (the
        runner's warm reset ends it in an exec it runs anyway), saving one round trip.
        """
        if self._state == "closed":
            return
        self._state = "closed"
        if self._recorder is not None:
            self._recorder.stop()
            self._recorder = None
        if self._transport is not None:
            self._transport.close()
        if not kill_server:
            return
        try:
            ExecTransport(self.host, self.socket_path, tmux_bin=self.tmux_bin,
                          timeout_sec=10).run(["kill-server"])
        except ControllerError:
            pass  # already gone: what we wanted
        if self.host.local:
            Path(self.socket_path).unlink(missing_ok=True)

    @property
    def transport(self) -> FallbackTransport:
        if self._state != "started" or self._transport is None:
            raise ControllerError(f"controller is {self._state}", hint="call start() first")
        return self._transport

    def tmux(self, argv: list[str], *, idempotent: bool = False,
             timeout_sec: float | None = None) -> list[str]:
        """Run one tmux command (argv after ``tmux -S <sock>``) on the best transport."""
        return self.transport.run(argv, timeout_sec=timeout_sec, idempotent=idempotent)

    def host_tmux_argv(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]:
        """Host argv running one tmux command in its own process; with ``timeout_sec`` the
        limit is enforced where tmux runs (``timeout -k``), not only on this side."""
        inner = [*T.tmux_prefix(self.tmux_bin, self.socket_path), *argv]
        if timeout_sec is not None:
            inner = ["timeout", "-k", "2", f"{timeout_sec:g}", *inner]
        return self.host.argv(inner)

    def libtmux_server(self) -> ChannelServer:
        """A ``libtmux.Server`` for this controller's tmux server whose every command runs on
        the controller's transport (the control channel when it is up): libtmux's
        ``Session`` / ``Window`` / ``Pane`` objects work inside a container at the channel's
        speed. Valid while the controller is started; one per controller."""
        transport = self.transport  # raises unless started
        if self._libtmux is None:
            from controllers.tmux.libtmux_bridge import ChannelServer

            self._libtmux = ChannelServer(self._libtmux_call, socket_path=self.socket_path,
                                          describe=f"{transport.name} channel to "
                                                   f"{self.host.describe()}")
        return self._libtmux

    def libtmux_pane(self) -> Pane:
        """The controller's own pane as a ``libtmux.Pane`` (same transport)."""
        from libtmux.pane import Pane

        return Pane.from_pane_id(pane_id=self.pane_id, server=self.libtmux_server())

    def _libtmux_call(self, argv: list[str], idempotent: bool) -> Any:
        return self.transport.call(argv, idempotent=idempotent)

    # ------------------------------------------------------------------ input

    def send_keys(
        self,
        text: str,
        *,
        enter: bool = True,
        delay_enter: float = 0.1,
        literal: bool = True,
        enter_check_sec: float = 1.0,
        enter_retries: int = 2,
    ) -> None:
        """Type ``text`` exactly (``send-keys -l --``), then Enter, checking it was taken.

        ``literal=False`` lets tmux read key names in ``text`` (``"C-c"``).
        """
        if literal:
            T.check_literal(text)
            for piece in T.chunks(text, T.SEND_CHUNK_CHARS):
                if piece:
                    self.tmux(T.send_literal(self.pane_id, piece))
        else:
            self.tmux(["send-keys", "-t", self.pane_id, "--", text])
        if enter:
            if delay_enter > 0:
                time.sleep(delay_enter)
            self._press_enter(enter_check_sec, enter_retries)

    def _fingerprint(self) -> tuple[Any, ...]:
        st = self.pane_state()
        return (self.capture_pane(), st.cursor_x, st.cursor_y, st.history_size, st.dead)

    def _press_enter(self, check_sec: float, retries: int) -> None:
        """Enter, then watch the screen/cursor; press again (bounded) if nothing moved."""
        before = self._fingerprint()
        for attempt in range(retries + 1):
            self.tmux(T.send_key(self.pane_id, "Enter"))
            deadline = time.monotonic() + check_sec
            while time.monotonic() < deadline:
                now = self._fingerprint()
                if now != before:
                    return
                time.sleep(0.01 if attempt == 0 else 0.05)
        st = self.pane_state()
        if st.dead:
            raise PaneDead("pane exited before Enter was taken", exit_status=st.exit_status,
                           screen=self.capture_pane())
        raise SendKeysError(
            f"Enter was not taken: the screen did not change after {retries + 1} presses",
            hint="the program may be blocked; see capture_pane()",
        )

    def paste(self, text: str, *, enter: bool = False, enter_check_sec: float = 1.0) -> None:
        """Paste through a tmux buffer (bracketed when the program asked for it): for
        multi-line and large text, which arrives as one paste instead of keypresses."""
        T.check_paste(text)
        buf = f"harness-paste-{uuid.uuid4().hex[:12]}"
        try:
            for i, piece in enumerate(T.chunks(text, T.BUFFER_CHUNK_CHARS)):
                self.tmux(T.set_buffer(buf, piece, append=i > 0))
            self.tmux(T.paste_buffer(self.pane_id, buf))
        except ControllerError:
            try:
                self.tmux(T.delete_buffer(buf))
            except ControllerError:
                pass
            raise
        if enter:
            self._press_enter(enter_check_sec, 2)

    def send_key(self, name: str) -> None:
        """One named key: Enter, Escape, C-c, Up, Down, Tab, BTab, ..."""
        self.tmux(T.send_key(self.pane_id, name))

    def interrupt(self) -> None:
        self.send_key("C-c")

    # ------------------------------------------------------------------ reading

    def capture_pane(self, *, history: bool = False, join_wrapped: bool = True,
                     escapes: bool = False) -> str:
        """The pane's text; ``history=True`` for the whole scrollback. Trailing spaces of
        each line and blank lines after the last text are dropped.

        While the pane's output flows on the control channel (recording), a screen that
        printed nothing since the last capture is not captured again: the waits poll often
        and most polls find the screen as it was."""
        key = (history, join_wrapped, escapes)
        channel = self.notification_feed()
        stamp = (channel.connects, channel.output_seq) if channel is not None and channel.output_flowing() else None
        if stamp is not None:
            hit = self._captures.get(key)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        lines = self.tmux(T.capture(self.pane_id, history=history, join_wrapped=join_wrapped,
                                    escapes=escapes), idempotent=True)
        if not escapes:
            lines = [ln.rstrip() for ln in lines]
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines)
        if stamp is not None:
            self._captures[key] = (stamp, text)
        return text

    def pane_state(self, *, settle_sec: float = 2.0) -> PaneState:
        """One round trip, plus re-reads while the pane is dead but its exit status unknown.

        tmux 3.3a sometimes misses the SIGCHLD of a pane's process (seen here: the process
        stays a zombie of the server, ``pane_dead_status`` stays empty). A SIGCHLD sent to
        the server makes it reap the process and record the status.
        """
        deadline = time.monotonic() + settle_sec
        nudged = False
        while True:
            raw = self.tmux(T.display(self.pane_id), idempotent=True)
            f = (raw[0] if raw else "").split("\t")
            f += [""] * (len(T.PANE_FIELDS) - len(f))
            dead, status, sig = f[0] == "1", _int(f[1]), _int(f[2])
            if not dead or status is not None or sig or time.monotonic() >= deadline:
                break
            if not nudged and _int(f[9]):
                nudged = True
                time.sleep(0.1)  # the usual case: tmux reaps it by itself
                subprocess.run(self.host.argv(["kill", "-CHLD", f[9]]), capture_output=True,
                               timeout=self.command_timeout_sec, check=False)
            time.sleep(0.02)
        if dead and sig:
            status = 128 + sig
        return PaneState(dead, status if dead else None, _int(f[3]), _int(f[4]) or 0,
                         _int(f[5]) or 0, _int(f[6]) or 0, _int(f[7]) or 0, _int(f[8]) or 0)

    def is_alive(self) -> bool:
        return not self.pane_state().dead

    def exit_status(self) -> int | None:
        """None while running; the exit code (128+N after signal N) once the pane died."""
        return self.pane_state().exit_status

    def resize(self, width: int, height: int) -> None:
        self.tmux(T.resize(self.session, width, height))
        self._captures.clear()  # a resize re-wraps the screen without printing a byte
        self.width, self.height = width, height

    # ------------------------------------------------------------------ waits

    def wait(self, strategy: W.Strategy, *, timeout_sec: float = 30.0,
             poll_interval_sec: float = 0.1, fail_on_exit: bool = True) -> Any:
        return W.poll(self, strategy, timeout_sec=timeout_sec,
                      poll_interval_sec=poll_interval_sec, fail_on_exit=fail_on_exit)

    def wait_for_text(self, pattern: str | re.Pattern[str], *, regex: bool = False,
                      timeout_sec: float = 30.0, history: bool = False) -> re.Match[str]:
        rx = pattern if regex or isinstance(pattern, re.Pattern) else re.escape(pattern)
        result: re.Match[str] = self.wait(W.ScreenMatches(rx, history=history),
                                          timeout_sec=timeout_sec)
        return result

    def wait_for_prompt(self, regex: str | re.Pattern[str], *,
                        timeout_sec: float = 30.0) -> re.Match[str]:
        return self.wait_for_text(regex, regex=True, timeout_sec=timeout_sec)

    def wait_for_shell_prompt(self, *, regex: str = W.SHELL_PROMPT,
                              timeout_sec: float = 30.0) -> re.Match[str]:
        """A shell prompt on the last non-blank line."""
        result: re.Match[str] = self.wait(W.ScreenMatches(regex, last_lines=1),
                                          timeout_sec=timeout_sec)
        return result

    def wait_for_idle(self, *, stable_for: float = 1.0, poll: float = 0.1,
                      ignore: list[str] | tuple[str, ...] = (),
                      busy: list[str] | tuple[str, ...] = (),
                      timeout_sec: float = 60.0) -> str:
        """The screen's masked content hash held still for ``stable_for`` seconds."""
        screen: str = self.wait(W.ScreenStable(stable_for, ignore, busy),
                                timeout_sec=timeout_sec, poll_interval_sec=poll)
        return screen

    def new_channel(self, prefix: str = "sig") -> str:
        """A wait-for channel name used once (tmux latches unmatched signals)."""
        return f"harness-{prefix}-{uuid.uuid4().hex}"

    def signal_command(self, channel: str) -> list[str]:
        """The argv a process *where tmux runs* executes to fire ``channel`` (for hooks)."""
        return [*T.tmux_prefix(self.tmux_bin, self.socket_path), *T.fire_signal(channel)]

    def notification_feed(self) -> ControlTransport | None:
        """The control channel commands go over (its notifications, its reconnect count),
        or None on the exec transport."""
        primary = self._transport.primary if self._transport is not None else None
        if isinstance(primary, ControlTransport) and self._state == "started":
            return primary
        return None

    def wait_for_signal(self, channel: str, *, timeout_sec: float = 60.0,
                        poll_interval_sec: float = 0.05) -> str:
        return str(self.wait(W.Signal(channel, max_sec=timeout_sec + 5),
                             timeout_sec=timeout_sec, poll_interval_sec=poll_interval_sec))

    def run_shell(self, cmd: str, *, timeout_sec: float = 60.0) -> ShellResult:
        """Type ``cmd`` into the pane's shell; exit code and output via unique markers."""
        return run_in_shell(self, cmd, timeout_sec=timeout_sec)

    # ------------------------------------------------------------------ recording, attach

    def start_recording(self, path: Path | str, *, title: str = "") -> Path:
        """Record the pane's output to an asciicast v2 file from now on."""
        if self._recorder is not None:
            raise ControllerError("already recording")
        st = self.pane_state()
        lines = self.tmux(T.capture(self.pane_id, history=False, join_wrapped=False,
                                    escapes=True), idempotent=True)
        first = initial_screen(lines, st.cursor_x, st.cursor_y)
        self._recorder = AsciicastRecorder(Path(path), self._output_feed, self.pane_id, width=st.width,
                                           height=st.height, first_screen=first, title=title)
        return Path(path)

    def _output_feed(self, listener: OutputListener) -> Callable[[], None]:
        """Start feeding the pane's output to ``listener``; returns the stop function. The
        command channel carries it when there is one; else a dedicated control client."""
        primary = self.transport.primary
        if isinstance(primary, ControlTransport):
            return primary.add_output_listener(listener)
        channel = self._control_channel(want_output=True, on_output=listener)
        channel.connect()
        return channel.close

    @property
    def recorder(self) -> AsciicastRecorder | None:
        return self._recorder

    def stop_recording(self) -> Path | None:
        rec, self._recorder = self._recorder, None
        return rec.stop() if rec is not None else None

    def attach_argv(self) -> list[str]:
        return self.host.attach_argv(
            [*T.tmux_prefix(self.tmux_bin, self.socket_path), "attach-session", "-t", self.session])

    def attach_command(self) -> str:
        """What a person types to watch and drive the pane live (detach: C-b d)."""
        return T.shell_join(self.attach_argv())

    def view_command(self) -> str:
        """A command (no terminal needed) that prints the pane's screen now: what
        ``harness watch`` runs to follow a trial without touching it."""
        return T.shell_join(self.host.argv([*T.tmux_prefix(self.tmux_bin, self.socket_path),
                                            *T.capture(self.pane_id, history=False, join_wrapped=True,
                                                       escapes=False)]))


class LocalTmuxController(TmuxController):
    """A tmux server on this machine, socket under ``~/.cache/agent-harness/tmux``.

    Its lifecycle runs through libtmux's object model (``Server.new_session``, the session's
    window and pane looked up as objects, ``Server.kill``) on this controller's own
    :meth:`libtmux_server`, so every call has the transport's timeout. That costs three tmux
    processes more than the one-process start a container needs (once per controller: see
    ``bench/controller.py``, "lifecycle"); the per-poll paths (capture, keys, waits)
    stay on the controller's direct commands, which libtmux would slow (a ``Pane.refresh``
    asks tmux for every field). ``start_argv`` / ``started`` (a caller that runs the start
    in its own process) keep the one-process start.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(LocalHost(), **kwargs)

    def _start_pane(self, seq: list[str], command: list[str] | str, *, env: dict[str, str] | None,
                    cwd: str | None) -> None:
        """The server with its options (one process: they must exist before the pane), then
        the session, the signal board and the pane through libtmux (``seq`` is not run)."""
        del seq
        from libtmux.constants import OptionScope
        from libtmux.exc import LibTmuxException

        try:
            self._exec_transport().run(T.join_sequence(T.server_options(self.options)))
            server = self._channel_server()
            session = server.new_session(session_name=self.session, x=self.width, y=self.height,
                                         start_directory=cwd, environment=env,
                                         window_command=_pane_command(command, env))
            # on the pane's window only (see ``argv.start_server_sequence``), and before a
            # control client attaches: its default size would otherwise resize the window
            session.set_option("window-size", "manual", scope=OptionScope.Window)
            _LOCAL_TMUX_VERSIONS.setdefault(self.tmux_bin, server.tmux_version())
            # the session exists: the rest rides the control channel, as every later call
            control = self._control_channel() if self.transport_kind == "control" else None
            self._transport = FallbackTransport(control, self._exec_transport())
            self._state = "started"
            server.new_session(session_name=T.SIGNAL_SESSION, x=20, y=2,
                               window_command=_pane_command(list(T.SIGNAL_BOARD)))
            pane = session.active_pane
            if pane is None or not pane.pane_id:
                raise ControllerError(f"tmux made session {self.session} but shows no pane in it")
            self.pane_id = pane.pane_id
        except LibTmuxException as exc:
            raise ControllerError(f"tmux on this machine could not start the pane: {exc}",
                                  hint="run `harness doctor`") from exc

    def close(self, *, kill_server: bool = True) -> None:
        """As ``TmuxController.close``, with the server killed by ``libtmux.Server.kill``."""
        if self._state == "closed":
            return
        super().close(kill_server=False)
        if not kill_server:
            return
        from libtmux.exc import LibTmuxException

        try:
            self._channel_server().kill()
        except (HarnessError, LibTmuxException):
            pass  # already gone (libtmux says so quietly), or cannot be reached: nothing to kill
        Path(self.socket_path).unlink(missing_ok=True)

    def _channel_server(self) -> ChannelServer:
        """This controller's ``ChannelServer``, usable before ``start`` finishes and after
        ``close`` (its calls then go to one tmux process each, with a deadline)."""
        if self._libtmux is None:
            from controllers.tmux.libtmux_bridge import ChannelServer

            self._libtmux = ChannelServer(self._libtmux_call, socket_path=self.socket_path,
                                          describe="the controller's transports on this machine",
                                          version=_LOCAL_TMUX_VERSIONS.get(self.tmux_bin))
        return self._libtmux

    def libtmux_server(self) -> ChannelServer:
        self.transport  # noqa: B018 - raises unless started
        return self._channel_server()

    def _libtmux_call(self, argv: list[str], idempotent: bool) -> Any:
        if self._state == "started" and self._transport is not None:
            return self._transport.call(argv, idempotent=idempotent)
        return self._exec_transport().call(argv)


#: tmux's version per binary on this machine, asked once per process (libtmux checks it often)
_LOCAL_TMUX_VERSIONS: dict[str, str] = {}


def _pane_command(command: list[str] | str, env: dict[str, str] | None = None) -> str:
    """libtmux takes the pane's command as one string, which tmux runs with its default shell
    (``$SHELL -c``). A list is quoted and ``exec``'d, so the pane's process is the program
    itself (its pid, its exit status), as when tmux runs the words directly; ``env`` is also
    given on that line, because bash drops some variables (``PS1``) it got from tmux's ``-e``.
    A string is tmux's own (one shell line), as before."""
    if isinstance(command, str):
        return command
    pre = ["env", "--", *(f"{k}={v}" for k, v in env.items())] if env else []
    return f"exec {T.shell_join([*pre, *command])}"


class SandboxTmuxController(TmuxController):
    """A tmux server inside a sandbox: any sandbox that gives a host command prefix
    (``host_argv``, e.g. ``DockerSandbox``), or a bare container id; ``user`` is the exec
    user (the server's owner). Nothing here is Docker's: the prefix is the whole seam."""

    def __init__(self, target: Any, *, user: str | None = None, **kwargs: Any) -> None:
        host = host_for(target, user=user)
        if isinstance(host, LocalHost):
            raise TypeError(f"{type(self).__name__} needs a sandbox with host_argv() or a "
                            "container id; use LocalTmuxController for tmux on this machine")
        super().__init__(host, **kwargs)


DEPRECATED_DOCKER_NAME = ("DockerTmuxController is deprecated: use SandboxTmuxController "
                          "(same class; it works on any sandbox with host_argv)")


def __getattr__(name: str) -> Any:
    """``DockerTmuxController``: the deprecated, Docker-specific old name of
    :class:`SandboxTmuxController`; still works, and warns."""
    if name == "DockerTmuxController":
        warnings.warn(DEPRECATED_DOCKER_NAME, DeprecationWarning, stacklevel=2)
        return SandboxTmuxController
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _conformance() -> None:
    """mypy proves the controller is what the waits and the shell helper expect (never
    called)."""
    _c: Controller = TmuxController()


__all__ = ["ContainerHost", "LocalTmuxController", "PaneState", "SandboxTmuxController",
           "ShellResult", "TmuxController"]
