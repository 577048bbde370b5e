"""Record and passthrough reach the upstream through the proxy the environment names.

A forward proxy is started on loopback in the test (it relays absolute-URI requests and
notes what it saw); the upstream is a scripted Gateway playing the vendor. With
``HTTP_PROXY`` set the recording goes through the proxy, with ``NO_PROXY`` naming the
upstream's host it goes direct; the stdlib ``http.client`` the Gateway once used would
have ignored both.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from gw_helpers import codex_request, post, sse

from harness.gateway import Gateway, Upstream
from harness.gateway.cassette import load_cassette

PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
              "all_proxy", "NO_PROXY", "no_proxy")


class _ProxyHandler(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: POST http://host:port/path relayed with http.client."""

    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        u = urlsplit(self.path)
        conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("proxy-connection", "connection", "host")}
            conn.request("POST", u.path + (f"?{u.query}" if u.query else ""), body=body,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()  # chunked decoded; sent on with a length
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.getheader("Content-Type") or "")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, dict[str, str]]] = []


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    srv = _Proxy()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=10)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def _record(vendor: Gateway, cassette: Path) -> tuple[str, list[bytes]]:
    """Record one streamed Messages turn and one Responses turn; the vendor's key plays
    the real key. Returns that key and the two raw answers."""
    real_key = vendor.register_trial("vendor").key
    up = Upstream(anthropic_url=vendor.url, openai_url=vendor.url + "/v1",
                  anthropic_key=real_key, openai_key=real_key, timeout_sec=10)
    with Gateway("record", cassette=cassette, upstream=up) as rec:
        key = rec.register_trial("t").key
        answers = []
        for path, body, bearer in (
                ("/v1/messages?beta=true", {"model": "m", "max_tokens": 9, "stream": True,
                                            "messages": [{"role": "user", "content": "hello"}]},
                 False),
                ("/v1/responses", codex_request("hello"), True)):
            status, _, raw = post(rec.url, path, body, key, bearer=bearer)
            assert status == 200, raw
            answers.append(raw)
        assert [e.status for e in rec.exchanges("t")] == [200, 200]
    return real_key, answers


def test_record_goes_through_the_proxy_from_the_environment(
        scripted: Callable[..., Gateway], proxy: _Proxy, clean_env: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    vendor = scripted()
    real_key, answers = _record(vendor, tmp_path / "c.jsonl")
    assert sse(answers[0])[-1][0] == "message_stop"
    assert sse(answers[1])[-1][1]["response"]["output"][0]["content"][0]["text"] == \
        "Hello from the harness gateway."
    targets = [p for p, _ in proxy.seen]
    assert targets == [f"{vendor.url}/v1/messages?beta=true", f"{vendor.url}/v1/responses"]
    anthropic_headers, openai_headers = (h for _, h in proxy.seen)
    assert anthropic_headers["x-api-key"] == real_key  # the real key, not the trial's
    assert openai_headers["authorization"] == f"Bearer {real_key}"
    assert [e.api for e in load_cassette(tmp_path / "c.jsonl")] == ["anthropic", "openai"]


def test_no_proxy_sends_the_upstream_direct(
        scripted: Callable[..., Gateway], proxy: _Proxy, clean_env: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    _record(scripted(), tmp_path / "c.jsonl")
    assert proxy.seen == []


def test_a_dead_proxy_is_a_clear_502(
        scripted: Callable[..., Gateway], proxy: _Proxy, clean_env: pytest.MonkeyPatch) -> None:
    """The upstream itself is up: only going through the (dead) proxy can fail."""
    port = proxy.server_address[1]
    proxy.shutdown()
    proxy.server_close()  # nothing listens there any more
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    vendor = scripted()
    up = Upstream(anthropic_url=vendor.url, anthropic_key="sk-real", timeout_sec=5)
    with Gateway("passthrough", upstream=up) as gw:
        status, _, raw = post(gw.url, "/v1/messages", {"model": "m", "messages": []},
                              gw.register_trial("t").key)
    assert status == 502 and b"unreachable" in raw and b"sk-real" not in raw
