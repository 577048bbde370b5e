"""``engine.client`` opens a client per sandbox: the first one of an endpoint negotiates the
API version and the later ones reuse it (one request fewer each), and on a unix socket no
client reads proxy settings from the environment for every call. Seen on the wire through
a recording socket in front of the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import engine
from tests.runner.test_engine_restart import EngineProxy

pytestmark = pytest.mark.docker


class RecordingProxy(EngineProxy):
    """Forwards like EngineProxy and keeps each request line a client sent."""

    requests: list[str]

    def saw(self, data: bytes) -> None:
        head = data.split(b"\r\n", 1)[0].decode("latin-1")
        if head.split(" ", 1)[0] in ("GET", "POST", "HEAD", "DELETE", "PUT"):
            self.requests.append(head)


def test_later_clients_reuse_the_negotiated_version_and_skip_proxy_lookups(
        tmp_path: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = engine.docker_endpoint()
    assert url.startswith("unix://"), "this test forwards a unix socket"
    sock = tmp_path / "engine.sock"
    proxy = RecordingProxy(sock, url[len("unix://"):])
    proxy.requests = []
    proxy.start()
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
        monkeypatch.setattr(engine, "_API_VERSIONS", {})
        first = engine.client(timeout_sec=10)
        seen_first = list(proxy.requests)
        second = engine.client(timeout_sec=10)
        seen_second = proxy.requests[len(seen_first):]
        assert any("/version" in r for r in seen_first), seen_first  # negotiated once
        assert not any("/version" in r for r in seen_second), seen_second
        assert any("/_ping" in r for r in seen_second), "a later client still proves the engine answers"
        assert second.api.api_version == first.api.api_version
        assert first.api.trust_env is False and second.api.trust_env is False
        assert second.containers.list(limit=1) is not None  # and it works with that version
        first.close()
        second.close()
    finally:
        proxy.stop()
