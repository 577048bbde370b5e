"""Property: any byte string crosses the relay intact, in both directions, with half-close.

Why a TCP echo server and not the Gateway: the relay is protocol-blind, and echoing
arbitrary binary payloads (including frame-header-looking bytes and > 64 KiB bodies that
span several frames) is the sharpest test of its framing."""

from __future__ import annotations

import shutil
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator

import pytest
from gw_helpers import need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.gateway.relay import RELAY_JS, RELAY_PY, Relay


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(10)
        while data := self.request.recv(65536):
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module", params=["node", "python"])
def relay(request: pytest.FixtureRequest) -> Iterator[Relay]:
    """relay.js or its Python twin: the same property must hold for both."""
    if request.param == "python":
        cmd = [sys.executable, str(RELAY_PY)]
    else:
        node = shutil.which("node")
        need(node is not None, "node is not installed on the host")
        assert node is not None
        cmd = [node, str(RELAY_JS)]
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        with Relay(cmd, f"http://127.0.0.1:{server.server_address[1]}") as r:
            yield r
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # half-close: the echo must still come back
        parts = []
        while chunk := s.recv(65536):
            parts.append(chunk)
    return b"".join(parts)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(st.binary(max_size=2048),
                         st.binary(min_size=1, max_size=64).map(lambda b: b * 4000)))
def test_bytes_survive_the_relay(relay: Relay, payload: bytes) -> None:
    assert relay.port
    assert roundtrip(relay.port, payload) == payload
