"""Transport (b): one persistent tmux control-mode client (``tmux -C attach``) per server.

Why: a ``docker exec`` per command costs ~95 ms; a line written to one long-lived
``docker exec -i <ctr> tmux -C attach`` is answered in well under a millisecond.

Why plain pipes and a reader thread, not pexpect: pexpect drives a pty, and a pty in
canonical mode cuts input lines at 4095 bytes (a long ``send-keys`` or ``set-buffer`` would be
truncated) and echoes what we write into what we read. tmux's control mode is a line protocol
made for pipes, so ``subprocess.Popen`` with pipes is both simpler and exact.

Protocol, as tmux 3.3 speaks it: every command is answered by ``%begin <time> <number>
<flags>``, its output lines, then ``%end`` or ``%error`` with the *same* three fields (so a pane
line that happens to read ``%end ...`` cannot end a block early). Notifications (``%output``,
``%exit``, ...) come only between blocks.
"""

from __future__ import annotations

import codecs
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from controllers.tmux.argv import control_attach, control_line, tmux_prefix
from controllers.tmux.base import ChannelUnavailable, NotificationListener, Reply, Transport
from controllers.tmux.hosts import Host
from harness.errors import TmuxCommandError, TransportError


@dataclass
class Block:
    """One answered command: its output lines and whether tmux said %end or %error."""

    number: int
    flags: int
    ok: bool = True
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notification:
    name: str  # e.g. "%output", "%exit"
    args: bytes


class ControlParser:
    """Pure line parser (feed raw lines, get Blocks and Notifications); unit-tested alone."""

    def __init__(self) -> None:
        self._open: tuple[bytes, Block] | None = None

    def feed(self, raw: bytes) -> Block | Notification | None:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if self._open is not None:
            guard, block = self._open
            if line.startswith((b"%end ", b"%error ")) and line.split(b" ", 1)[1] == guard:
                block.ok = line.startswith(b"%end ")
                self._open = None
                return block
            block.lines.append(line.decode("utf-8", errors="replace"))
            return None
        if line.startswith(b"%begin "):
            guard = line.split(b" ", 1)[1]
            parts = guard.split()
            block = Block(number=int(parts[1]), flags=int(parts[2]) if len(parts) > 2 else 0)
            self._open = (guard, block)
            return None
        if line.startswith(b"%"):
            name, _, args = line.partition(b" ")
            return Notification(name.decode("ascii", errors="replace"), args)
        return None  # stray text outside a block (e.g. a docker CLI warning): ignored


def decode_output(escaped: bytes) -> bytes:
    """Undo tmux's %output escaping: bytes below 0x20 and ``\\`` are sent as ``\\ooo``."""
    if b"\\" not in escaped:
        return escaped
    out = bytearray()
    i, n = 0, len(escaped)
    while i < n:
        b = escaped[i]
        if b == 0x5C and i + 3 < n and escaped[i + 1 : i + 4].isdigit():
            out.append(int(escaped[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(b)
            i += 1
    return bytes(out)


OutputListener = Callable[[str, bytes, float], None]


class ControlTransport:
    """A self-reconnecting control-mode channel to one tmux server.

    ``run`` raises ``TmuxCommandError`` on ``%error``, ``TransportError`` when the channel died
    or a command was not answered within its timeout (the channel is then killed, because
    a late answer would be taken for the next command's), and ``ChannelUnavailable`` when no
    channel could be connected at all (the caller may fall back to transport (a)).
    """

    name = "control"

    def __init__(
        self,
        host: Host,
        socket_path: str,
        session: str,
        *,
        tmux_bin: str = "tmux",
        timeout_sec: float = 10.0,
        connect_timeout_sec: float = 15.0,
        want_output: bool = False,
        on_output: OutputListener | None = None,
    ) -> None:
        self.host = host
        self.socket_path = socket_path
        self.session = session
        self.tmux_bin = tmux_bin
        self.timeout_sec = timeout_sec
        self.connect_timeout_sec = connect_timeout_sec
        self.want_output = want_output
        self.on_output = on_output
        self.connects = 0
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: queue.Queue[Block | None] = queue.Queue()
        self._dead = threading.Event()
        self._stderr: deque[str] = deque(maxlen=20)
        self._closed = False
        self._reader: threading.Thread | None = None
        self._listeners: list[OutputListener] = []
        self._note_listeners: list[NotificationListener] = []
        #: counts %output notifications: an unchanged count means an unchanged screen
        self.output_seq = 0
        self._output_on = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        """The host process of the channel (tests kill it to prove reconnection)."""
        return self._proc.pid if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and not self._dead.is_set() and self._proc.poll() is None

    def connect(self) -> None:
        """Start the client and wait for the answer to its own attach command."""
        with self._lock:
            if self._closed:
                raise ChannelUnavailable("control channel is closed")
            self._kill()
            argv = self.host.argv(
                [*tmux_prefix(self.tmux_bin, self.socket_path),
                 *control_attach(self.session, no_output=not self._wants_output())],
                interactive=True,
            )
            try:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, start_new_session=True,
                )
            except OSError as exc:
                raise ChannelUnavailable(f"cannot start the control channel: {exc}") from exc
            self._proc = proc
            self._answers = queue.Queue()
            self._dead = threading.Event()
            self._reader = threading.Thread(
                target=self._read, args=(proc, self._answers, self._dead),
                daemon=True, name="tmux-control-reader",
            )
            self._reader.start()
            threading.Thread(target=self._read_stderr, args=(proc,), daemon=True,
                             name="tmux-control-stderr").start()
            try:
                first = self._answers.get(timeout=self.connect_timeout_sec)
            except queue.Empty:
                first = None
            if first is None or not first.ok:
                detail = "; ".join(first.lines) if first else self._stderr_tail()
                self._kill()
                raise ChannelUnavailable(
                    f"control channel to {self.host.describe()} did not attach: "
                    f"{detail or 'no answer in time'}"
                )
            self.connects += 1
            # a command channel does not need every byte the pane prints: attached with the
            # no-output flag (set later, with output already queued, tmux 3.3a was seen
            # never to answer the command that set it)
            self._output_on = self._wants_output()

    def output_flowing(self) -> bool:
        """Every byte the pane prints reaches this channel now (so ``output_seq`` is a
        valid change counter for the screen)."""
        return self._output_on and self.alive()

    def _wants_output(self) -> bool:
        return self.want_output or bool(self._listeners)

    def add_output_listener(self, listener: OutputListener) -> Callable[[], None]:
        """Deliver every ``%output`` to ``listener`` from now on; returns the function that
        stops it. Why on this channel: a second client would cost another ``docker exec``
        and a second copy of every byte. When the stop function returns, every byte the
        pane printed before it was called has been delivered (tmux answers the command that
        turns output off only after the notifications queued before it)."""
        with self._lock:
            # tmux 3.3a stops answering a control client whose flags change while output is
            # queued for it: output is turned on once (when it is still off) and left on
            first = not self._output_on
            self._listeners.append(listener)
            if first:
                try:
                    self.run(["refresh-client", "-f", "!no-output"])
                except BaseException:
                    self._listeners.remove(listener)
                    raise
                self._output_on = True

        def remove() -> None:
            with self._lock:
                if listener not in self._listeners:
                    return
                if self.alive():
                    # a round trip: its answer comes after every notification queued before
                    # it. Output is left on (see above: turning it off could hang the channel)
                    try:
                        self._send(["display-message", "-p", "ok"], min(self.timeout_sec, 5.0))
                    except TransportError:
                        pass
                self._listeners.remove(listener)

        return remove

    def add_notification_listener(self, listener: NotificationListener) -> Callable[[], None]:
        """Call ``listener(name, args)`` for every notification but ``%output`` (e.g.
        ``%session-renamed``); returns the function that stops it."""
        with self._lock:
            self._note_listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._note_listeners:
                    self._note_listeners.remove(listener)

        return remove

    def close(self) -> None:
        """End the client (safe twice). The tmux server keeps running."""
        with self._lock:
            self._closed = True
            self._kill()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()  # a control client exits when its input ends
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=2)  # let buffered notifications reach their listener
        self._dead.set()

    # ------------------------------------------------------------------ reading

    def _read(self, proc: subprocess.Popen[bytes], answers: queue.Queue[Block | None],
              dead: threading.Event) -> None:
        parser = ControlParser()
        assert proc.stdout is not None
        try:
            for raw in iter(proc.stdout.readline, b""):
                item = parser.feed(raw)
                if isinstance(item, Block):
                    answers.put(item)
                elif isinstance(item, Notification):
                    if item.name == "%output":
                        self.output_seq += 1
                        listeners = [*([self.on_output] if self.on_output else []), *self._listeners]
                        if listeners:
                            pane, _, data = item.args.partition(b" ")
                            decoded, at = decode_output(data), time.monotonic()
                            for cb in listeners:
                                cb(pane.decode(), decoded, at)
                    elif item.name == "%exit":
                        break
                    else:
                        for note in list(self._note_listeners):
                            note(item.name, item.args)
        except (OSError, ValueError):
            pass
        finally:
            dead.set()
            answers.put(None)

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            for raw in iter(proc.stderr.readline, b""):
                self._stderr.append(dec.decode(raw).rstrip())
        except (OSError, ValueError):
            pass

    def _stderr_tail(self) -> str:
        return " | ".join(s for s in self._stderr if s)[-300:]

    # ------------------------------------------------------------------ commands

    def run(self, argv: list[str], *, timeout_sec: float | None = None) -> list[str]:
        block = self._answer(argv, timeout_sec)
        if not block.ok:
            raise TmuxCommandError(f"tmux {argv[0]}: {' '.join(block.lines)[:300]}")
        return block.lines

    def call(self, argv: list[str], *, timeout_sec: float | None = None) -> Reply:
        """Like ``run``, but ``%error`` is a ``Reply`` with ``ok=False`` and tmux's lines."""
        block = self._answer(argv, timeout_sec)
        return Reply(True, block.lines, []) if block.ok else Reply(False, [], block.lines)

    def _answer(self, argv: list[str], timeout_sec: float | None) -> Block:
        with self._lock:
            if not self.alive():
                self.connect()  # raises ChannelUnavailable: nothing was sent
            return self._send(argv, timeout_sec or self.timeout_sec)

    def _send(self, argv: list[str], timeout_sec: float) -> Block:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        line = control_line(argv).encode("utf-8") + b"\n"
        try:
            proc.stdin.write(line)
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            self._kill()
            raise TransportError(f"control channel died before tmux {argv[0]}: {exc}") from exc
        deadline = time.monotonic() + timeout_sec
        while True:
            left = deadline - time.monotonic()
            try:
                block = self._answers.get(timeout=max(left, 0.0))
            except queue.Empty:
                self._kill()
                raise TransportError(
                    f"tmux {argv[0]} got no answer on the control channel in {timeout_sec:g}s"
                ) from None
            if block is None:
                self._kill()
                raise TransportError(
                    f"control channel died during tmux {argv[0]}"
                    + (f": {self._stderr_tail()}" if self._stderr_tail() else "")
                )
            if block.flags & 1:
                return block
            # a block tmux ran for someone else (hooks): not our answer


def _conformance(host: Host) -> None:
    """mypy proves the control channel is a Transport (never called)."""
    _t: Transport = ControlTransport(host, "", "")


__all__ = ["Block", "ChannelUnavailable", "ControlParser", "ControlTransport", "Notification",
           "NotificationListener", "OutputListener", "decode_output"]
