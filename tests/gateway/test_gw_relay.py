"""The stdio relay, first with a local node process, then through `docker exec -i` into a
container that has no network at all."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import anthropic
import pytest
from gw_helpers import BASIC_POLICY, need

from controllers.sandbox.owner import owner_labels
from harness.errors import GatewayError
from harness.gateway import Gateway
from harness.gateway.relay import RELAY_JS, RELAY_PY, Relay, relay_argv

SLOW = BASIC_POLICY + "  - {match: {user: slow}, fault: {event_delay_sec: 0.3}, " \
                      "reply: {text: streamed slowly}}\n"


@pytest.fixture(scope="module", params=["node", "python"])
def relay_cmd(request: pytest.FixtureRequest) -> list[str]:
    """The in-container half, run locally: relay.js, or its Python twin (same frames)."""
    if request.param == "python":
        return [sys.executable, str(RELAY_PY)]
    path = shutil.which("node")
    need(path is not None, "node is not installed on the host")
    assert path is not None
    return [path, str(RELAY_JS)]


def local_relay(relay_cmd: list[str], gw: Gateway, port: int = 0) -> Relay:
    return Relay([*relay_cmd, "127.0.0.1", str(port)], gw.url)


def stream_request(port: int, key: str, text: str) -> tuple[list[float], bytes]:
    """POST a streaming request; the arrival time of each chunk, and the whole body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"model": "m", "max_tokens": 5, "stream": True,
                       "tools": [{"name": "Bash"}],
                       "messages": [{"role": "user", "content": text}]})
    conn.request("POST", "/v1/messages", body=body,
                 headers={"x-api-key": key, "content-type": "application/json"})
    resp = conn.getresponse()
    times, parts = [], []
    while chunk := resp.read1(65536):
        times.append(time.monotonic())
        parts.append(chunk)
    conn.close()
    return times, b"".join(parts)


def test_many_concurrent_streams(relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    errors: list[BaseException] = []
    with local_relay(relay_cmd, gw) as relay:
        assert relay.port
        c = anthropic.Anthropic(base_url=f"http://127.0.0.1:{relay.port}", api_key=key,
                                max_retries=0, timeout=10)

        def one() -> None:
            try:
                with c.messages.stream(model="m", max_tokens=5,
                                       messages=[{"role": "user", "content": "hello"}]) as s:
                    assert s.get_final_message().content[0].text.startswith("Hello")  # type: ignore
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        c.close()
        assert not errors
        assert len(gw.exchanges("t")) == 40
        deadline = time.monotonic() + 5
        while relay.open_connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.open_connections() == 0


def test_sse_is_not_buffered(relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted(SLOW)
    with local_relay(relay_cmd, gw) as relay:
        assert relay.port
        times, body = stream_request(relay.port, gw.register_trial("t").key, "slow")
    assert b"streamed slowly" in body and b"message_stop" in body
    assert len(times) >= 4 and times[-1] - times[0] >= 1.0  # chunks arrived over time


def test_client_closing_mid_stream_frees_the_connection(
        relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted(SLOW)
    key = gw.register_trial("t").key
    with local_relay(relay_cmd, gw) as relay:
        assert relay.port
        s = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
        body = json.dumps({"model": "m", "max_tokens": 5, "stream": True,
                           "messages": [{"role": "user", "content": "slow"}]}).encode()
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                  b"x-api-key: " + key.encode() + b"\r\ncontent-length: %d\r\n\r\n" % len(body)
                  + body)
        assert s.recv(100).startswith(b"HTTP/1.1 200")
        s.close()
        deadline = time.monotonic() + 5
        while (relay.open_connections() or not gw.exchanges("t")) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.open_connections() == 0
        assert gw.exchanges("t")[0].status == 499  # the gateway saw the client go


def test_unreachable_gateway_resets_the_client_fast(relay_cmd: list[str]) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead_port = free.getsockname()[1]
    with Relay([*relay_cmd], f"http://127.0.0.1:{dead_port}") as relay:
        assert relay.port
        s = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 3
        s.close()


def test_relay_process_death_is_noticed(relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    relay = local_relay(relay_cmd, gw).start()
    try:
        assert relay.alive and relay._proc is not None
        os.kill(relay._proc.pid, signal.SIGKILL)
        assert relay.wait_dead(5) and not relay.alive
    finally:
        relay.close()
    assert relay._proc is not None and relay._proc.poll() is not None


def test_close_stops_the_process(relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    with local_relay(relay_cmd, gw) as relay:
        proc = relay._proc
        assert proc is not None and proc.poll() is None
    assert proc.poll() == 0  # stdin EOF made relay.js exit by itself
    relay.close()  # safe twice


def test_start_failures_are_one_line(relay_cmd: list[str], scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(GatewayError, match=f"cannot listen on 127.0.0.1:{port}"):
            local_relay(relay_cmd, gw, port).start()
    with pytest.raises(GatewayError, match="exited with code 3 before listening: no such box"):
        Relay(["sh", "-c", "echo 'no such box' >&2; exit 3"], gw.url).start()
    with pytest.raises(GatewayError, match="cannot start"):
        Relay(["/nonexistent/node"], gw.url).start()
    with pytest.raises(GatewayError, match="host and port"):
        Relay([*relay_cmd], "not a url")


# ------------------------------------------------------------------ through a container


@pytest.fixture
def offline_container(docker_client: object) -> Iterator[str]:
    """A `--network none` container from the claude image (which ships Debian's node 18)."""
    image = "harness/claude:latest"
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                           timeout=60, check=False)
    need(probe.returncode == 0, f"{image} missing: run `harness images build claude`")
    name = f"harness-gw-relay-{uuid.uuid4().hex[:8]}"
    labels = [a for k, v in owner_labels("tests-gateway").items()
              for a in ("--label", f"{k}={v}")]
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "none",
                    *labels, image, "sleep", "600"],
                   check=True, capture_output=True, timeout=120)
    try:
        subprocess.run(["docker", "cp", str(RELAY_JS), f"{name}:/tmp/relay.js"],
                       check=True, capture_output=True, timeout=60)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)


FETCH_JS = """
const [port, key] = process.argv.slice(1);
const body = JSON.stringify({model: 'm', max_tokens: 5, stream: true, tools: [{name: 'Bash'}],
  messages: [{role: 'user', content: 'slow'}]});
const t0 = Date.now();
Promise.all([0, 1, 2].map(() => fetch(`http://127.0.0.1:${port}/v1/messages?beta=true`, {
  method: 'POST', body, headers: {'x-api-key': key, 'content-type': 'application/json'}})
  .then(async (r) => { const t = await r.text(); return [r.status, t.includes('streamed slowly')]; })))
  .then((rs) => { console.log(JSON.stringify({rs, ms: Date.now() - t0})); })
  .catch((e) => { console.log(JSON.stringify({error: String(e)})); process.exit(1); });
"""


@pytest.mark.docker
def test_offline_container_reaches_gateway_only_through_relay(
        offline_container: str, scripted: Callable[..., Gateway]) -> None:
    gw = scripted(SLOW)
    key = gw.register_trial("t").key
    argv = relay_argv(["docker", "exec", "-i", offline_container], 0, "/tmp/relay.js")
    with Relay(argv, gw.url) as relay:
        direct = subprocess.run(
            ["docker", "exec", offline_container, "node", "-e",
             (f"fetch('{gw.url}/health').then(()=>console.log('reached'))"
              ".catch(()=>console.log('blocked'))")],
            capture_output=True, text=True, timeout=60, check=False)
        assert direct.stdout.strip() == "blocked"
        out = subprocess.run(["docker", "exec", offline_container, "node", "-e", FETCH_JS,
                              str(relay.port), key], capture_output=True, text=True,
                             timeout=60, check=False)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result.get("rs") == [[200, True]] * 3, out.stderr
    assert not relay.alive
