"""The agent container reaches the Gateway through the relay and nothing else: only ``lo``
exists, a TCP connect to a listener on the host's docker-bridge address fails, while the
relay port answers as the Gateway (a request with an unknown key gets its 401)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from agent_rig import Rig

from harness.providers.warm import RELAY_PORT

pytestmark = [pytest.mark.agents, pytest.mark.docker]

PROBE = """
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError as exc:
    print("refused", type(exc).__name__, exc); sys.exit(3)
s.sendall(sys.argv[3].encode() if len(sys.argv) > 3 else b"")
print("connected", s.recv(200).decode(errors="replace") if len(sys.argv) > 3 else "")
"""


def _bridge_ip(client: Any) -> str:
    ipam = client.networks.get("bridge").attrs["IPAM"]["Config"]
    ips = [c["Gateway"] for c in ipam if c.get("Gateway") and ":" not in c["Gateway"]]
    # an engine that leaves Gateway out uses the subnet's first host (docker0's address)
    ips += [str(next(ipaddress.ip_network(c["Subnet"]).hosts())) for c in ipam
            if ":" not in c.get("Subnet", ":")]
    assert ips, f"the bridge network has no IPv4 gateway: {ipam}"
    return str(ips[0])


@pytest.fixture
def host_listener(rig: Rig) -> Iterator[tuple[str, int, list[str]]]:
    """A TCP listener on every host address; records who connected."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(4)
    srv.settimeout(0.5)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            seen.append(addr[0])
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield _bridge_ip(rig.client), srv.getsockname()[1], seen
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def test_only_loopback(rig: Rig) -> None:
    r = rig.box.exec(["ls", "/sys/class/net"])
    assert r.ok and r.stdout.split() == ["lo"], r.stdout


def test_host_unreachable_relay_reachable(rig: Rig, host_listener: tuple[str, int, list[str]]) -> None:
    ip, port, seen = host_listener
    # control: the listener does accept connections from this host
    with socket.create_connection((ip, port), timeout=3):
        pass
    out = rig.box.exec(["python3", "-c", PROBE, ip, str(port)], timeout_sec=30)
    assert out.exit_code == 3 and "refused" in out.stdout, out.stdout + out.stderr
    assert len(seen) == 1, f"a connection from the container reached the host: {seen}"
    req = ("POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: nobody\r\ncontent-type: application/json\r\n"
           "content-length: 2\r\nconnection: close\r\n\r\n{}")
    ok = rig.box.exec(["python3", "-c", PROBE, "127.0.0.1", str(RELAY_PORT), req], timeout_sec=30)
    assert ok.exit_code == 0 and "connected" in ok.stdout, ok.stdout + ok.stderr
    assert ok.stdout.split()[1:3] == ["HTTP/1.0", "401"] or " 401 " in ok.stdout.splitlines()[0], ok.stdout
