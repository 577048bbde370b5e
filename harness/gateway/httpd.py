"""The HTTP layer: a threaded stdlib server and a handler that knows how to stream.

Why ``ThreadingHTTPServer`` and not asyncio: the stdlib has no asyncio HTTP server, and the
load is small (a few dozen agent processes, each with one or two open requests), so a
thread per connection is cheap, keeps every handler plain blocking code (sleeps for
injected latency, blocking upstream reads in record mode) and needs no dependency.

Streams use HTTP/1.1 chunked encoding so the CLIs' keep-alive connections survive a
normal answer, and a deliberate cut (fault injection) is a connection dropped before the
terminating chunk, which both CLIs see as a broken stream.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("harness.gateway")

MAX_BODY = 64 * 1024 * 1024
_KEY_PARAM = re.compile(r"([?&]key=)[^&\s]*")


class GatewayHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``close()`` can cut idle keep-alives and join threads.

    It knows nothing of the Gateway: a request goes to ``dispatch(handler, body)`` and a health
    check answers ``health()``, so this module imports nothing back from its owner."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128  # a burst of relayed connects must not hit SYN retry delays

    def __init__(self, addr: tuple[str, int],
                 dispatch: Callable[[GatewayHandler, bytes], None],
                 health: Callable[[], dict[str, Any]]) -> None:
        self.dispatch = dispatch
        self.health = health
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, GatewayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def cut_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "harness-gateway/1"
    timeout = 300  # idle keep-alive / slow client bound, seconds
    # A reply is several small writes (headers, SSE chunks, the last chunk); with Nagle on, a
    # write waits for the ACK of the one before, which a keep-alive client delays ~40 ms.
    disable_nagle_algorithm = True
    server: GatewayHTTPServer
    #: time.monotonic() of the last byte written to the client (0.0: nothing yet); the
    #: Gateway reads it to tell a slow answer from one that never comes
    last_write: float = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        # a Gemini client may put its key in the query string: never into a log
        log.debug("%s %s", self.address_string(), _KEY_PARAM.sub(r"\1<redacted>", format % args))

    # ------------------------------------------------------------- request side
    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/health", "/healthz"):
            self.send_json(200, self.server.health())
        else:  # a wire's GET (a model list); ``self.command`` tells dispatch it is one
            self.server.dispatch(self, b"")

    def do_POST(self) -> None:
        try:
            body = self.read_body()
        except ValueError as exc:
            self.send_json(400, {"error": {"message": str(exc)}})
            return
        self.server.dispatch(self, body)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def api_key(self) -> str:
        """The key as the wires' clients send it: ``x-api-key``, ``Authorization: Bearer``,
        ``x-goog-api-key`` or a ``key=`` query parameter (Gemini)."""
        key = self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or ""
        if not key:
            auth = self.headers.get("Authorization") or ""
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key and "?" in self.path:
            key = dict(parse_qsl(urlsplit(self.path).query)).get("key", "")
        return key

    # ------------------------------------------------------------- response side
    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def send_raw(self, status: int, data: bytes, content_type: str,
                 headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.last_write = time.monotonic()

    def start_stream(self, status: int = 200, content_type: str = "text/event-stream",
                     headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        self.last_write = time.monotonic()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            self.last_write = time.monotonic()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self) -> None:
        """Drop the connection mid-response (fault injection): no terminating chunk."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
