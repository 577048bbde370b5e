"""Host half of the stdio relay: how a container with ``--network none`` reaches the Gateway.

Why stdio: ``docker exec -i`` is a byte channel that exists whatever the network setup,
including a remote ``DOCKER_HOST`` where the container could never route back to us. The
in-container half (``relay.js``, plain Node, copied in by the harness) accepts the CLI's
TCP connections on 127.0.0.1:<port> and multiplexes them over its stdin/stdout; this class
opens one TCP connection to the Gateway per relayed connection. The frame format is drawn in
``relay.js``.

Threads: one reader (frames from the process) and one pump per connection (Gateway bytes
back to the process), each a daemon thread joined on close. If the process dies every
connection is dropped; if this side closes, the process sees stdin end and exits.
"""

from __future__ import annotations

import collections
import json
import socket
import struct
import subprocess
import threading
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from harness.errors import GatewayError

RELAY_JS = Path(__file__).with_name("relay.js")
IN_CONTAINER_PATH = "/opt/harness/relay.js"
#: the Python twin (same frames): python3 starts in ~15 ms of CPU where node takes ~150 ms
RELAY_PY = Path(__file__).with_name("relay_agent.py")
IN_CONTAINER_PY = "/opt/harness/relay_agent.py"
OPEN, DATA, END, RESET, HELLO, FATAL = 1, 2, 3, 4, 5, 6
_HEAD = struct.Struct(">BII")
_CHUNK = 1 << 16


def in_container_argv(host: str, port: int) -> list[str]:
    """The in-container relay: the Python twin when the image has python3, else node."""
    script = (f'command -v python3 >/dev/null 2>&1 && exec python3 {IN_CONTAINER_PY} "$@"; '
              f'exec node {IN_CONTAINER_PATH} "$@"')
    return ["sh", "-c", script, "relay", host, str(port)]


def relay_argv(prefix: list[str], port: int, script: str = IN_CONTAINER_PATH) -> list[str]:
    """``prefix`` (e.g. ``["docker", "exec", "-i", ctr]``) + the node command line."""
    return [*prefix, "node", script, "127.0.0.1", str(port)]


class _Conn:
    def __init__(self, cid: int, sock: socket.socket) -> None:
        self.cid = cid
        self.sock = sock
        self.sent_end = False
        self.got_end = False
        self.thread: threading.Thread | None = None


class Relay:
    """Runs ``host_argv`` (the in-container relay) and bridges it to ``gateway_url``."""

    def __init__(self, host_argv: list[str], gateway_url: str, *,
                 start_timeout_sec: float = 20.0, connect_timeout_sec: float = 10.0,
                 idle_timeout_sec: float = 900.0) -> None:
        u = urlsplit(gateway_url)
        if not u.hostname or not u.port:
            raise GatewayError(f"relay needs a gateway URL with host and port, got {gateway_url!r}")
        self.argv = list(host_argv)
        self.target = (u.hostname, u.port)
        self.start_timeout_sec = start_timeout_sec
        self.connect_timeout_sec = connect_timeout_sec
        self.idle_timeout_sec = idle_timeout_sec
        self.port: int | None = None
        self.connections_opened = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._conns: dict[int, _Conn] = {}
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._hello = threading.Event()
        self._dead = threading.Event()
        self._fatal = ""
        self._reader: threading.Thread | None = None
        self._stderr_reader: threading.Thread | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Self:
        if self._closed or self._proc is not None:
            raise GatewayError("a Relay is started once; make a new one")
        try:
            # own session: a terminal's Ctrl-C must reach the harness, not kill the relay
            # under a running trial (the harness closes it in order)
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise GatewayError(f"relay cannot start {self.argv[0]!r}: {exc}") from exc
        self._reader = threading.Thread(target=self._read_loop, name="relay-reader", daemon=True)
        self._reader.start()
        # Drained continuously: a chatty `docker exec` must never block on a full pipe.
        self._stderr_reader = threading.Thread(target=self._drain_stderr, name="relay-stderr",
                                               daemon=True)
        self._stderr_reader.start()
        self._hello.wait(self.start_timeout_sec)
        if self.port is None:
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            if self._stderr_reader is not None:
                self._stderr_reader.join(timeout=1)
            why = self._fatal or self.stderr_tail() or "no answer"
            code = self._proc.poll() if self._proc is not None else None
            self.close()
            if code is not None and not self._fatal:
                raise GatewayError(f"relay exited with code {code} before listening: {why}")
            raise GatewayError(f"relay did not start within {self.start_timeout_sec:g}s: {why}")
        return self

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._dead.is_set()

    def wait_dead(self, timeout_sec: float) -> bool:
        return self._dead.wait(timeout_sec)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def close(self) -> None:
        """Stop the process (stdin EOF, then kill), drop every connection, join threads."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        if proc is not None:
            try:
                with self._wlock:
                    if proc.stdin is not None:
                        proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._drop_all()
        for t in (self._reader, self._stderr_reader):
            if t is not None:
                t.join(timeout=5)
        if proc is not None:
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()

    def stderr_tail(self) -> str:
        """The last line the relay process wrote to stderr (docker's own errors land here)."""
        return self._stderr_tail[-1] if self._stderr_tail else ""

    def _drain_stderr(self) -> None:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return
        try:
            for line in proc.stderr:
                text = line.decode("utf-8", "replace").strip()
                if text:
                    self._stderr_tail.append(text)
        except (OSError, ValueError):
            return

    # ------------------------------------------------------------------ frames out
    def _send(self, ftype: int, cid: int, payload: bytes = b"") -> bool:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return False
        with self._wlock:
            try:
                proc.stdin.write(_HEAD.pack(ftype, cid, len(payload)) + payload)
                proc.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    # ------------------------------------------------------------------ frames in
    def _read_exact(self, n: int) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        buf = bytearray()
        while len(buf) < n:
            try:
                part = self._proc.stdout.read(n - len(buf))
            except (OSError, ValueError):
                return None
            if not part:
                return None
            buf += part
        return bytes(buf)

    def _read_loop(self) -> None:
        try:
            while True:
                head = self._read_exact(_HEAD.size)
                if head is None:
                    return
                ftype, cid, length = _HEAD.unpack(head)
                payload = self._read_exact(length) if length else b""
                if payload is None:
                    return
                self._on_frame(ftype, cid, payload)
        finally:
            self._dead.set()
            self._hello.set()
            self._drop_all()

    def _on_frame(self, ftype: int, cid: int, payload: bytes) -> None:
        if ftype == HELLO:
            try:
                self.port = int(json.loads(payload)["port"])
            except (ValueError, KeyError, TypeError):
                self._fatal = f"bad hello {payload[:80]!r}"
            self._hello.set()
        elif ftype == FATAL:
            self._fatal = payload.decode("utf-8", "replace")
            self._hello.set()
        elif ftype == OPEN:
            self._open(cid)
        else:
            with self._lock:
                conn = self._conns.get(cid)
            if conn is not None:
                self._inbound(conn, ftype, payload)

    def _open(self, cid: int) -> None:
        try:
            sock = socket.create_connection(self.target, timeout=self.connect_timeout_sec)
        except OSError:
            self._send(RESET, cid)
            return
        sock.settimeout(self.idle_timeout_sec)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(cid, sock)
        with self._lock:
            self._conns[cid] = conn
            self.connections_opened += 1
        conn.thread = threading.Thread(target=self._pump, args=(conn,),
                                       name=f"relay-pump-{cid}", daemon=True)
        conn.thread.start()

    def _inbound(self, conn: _Conn, ftype: int, payload: bytes) -> None:
        try:
            if ftype == DATA:
                conn.sock.sendall(payload)
            elif ftype == END:
                conn.got_end = True
                conn.sock.shutdown(socket.SHUT_WR)
                if conn.sent_end:
                    self._drop(conn, notify=False)
            elif ftype == RESET:
                self._drop(conn, notify=False)
        except OSError:
            self._drop(conn, notify=True)

    def _pump(self, conn: _Conn) -> None:
        """Gateway -> container, unbuffered: each recv is forwarded as one DATA frame."""
        while True:
            try:
                data = conn.sock.recv(_CHUNK)
            except OSError:
                self._drop(conn, notify=True)
                return
            if not data:
                conn.sent_end = True
                self._send(END, conn.cid)
                if conn.got_end:
                    self._drop(conn, notify=False)
                return
            if not self._send(DATA, conn.cid, data):
                self._drop(conn, notify=False)
                return

    def _drop(self, conn: _Conn, *, notify: bool) -> None:
        with self._lock:
            known = self._conns.pop(conn.cid, None) is not None
        if known and notify:
            self._send(RESET, conn.cid)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            conns = list(self._conns.values())
        for c in conns:
            self._drop(c, notify=False)
        me = threading.current_thread()
        for c in conns:
            if c.thread is not None and c.thread is not me:
                c.thread.join(timeout=5)
