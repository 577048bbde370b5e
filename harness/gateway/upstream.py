"""Forwarding to the real model APIs (record and passthrough modes).

Why stdlib ``http.client``: it streams the response body as it arrives (SSE must not be
buffered), has per-socket timeouts, and needs no dependency. The user's real key is held
only by :class:`Upstream`; its ``repr`` hides it and the incoming dummy key is replaced,
never forwarded.
"""

from __future__ import annotations

import http.client
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.errors import GatewayError

_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding",
                  "te", "trailer", "upgrade", "proxy-authorization", "x-api-key",
                  "authorization", "accept-encoding"})


@dataclass(frozen=True)
class Upstream:
    """Where record/passthrough send requests, and the real keys (kept out of repr)."""

    anthropic_url: str = "https://api.anthropic.com"
    openai_url: str = "https://api.openai.com"
    anthropic_key: str | None = field(default=None, repr=False)
    openai_key: str | None = field(default=None, repr=False)
    timeout_sec: float = 600.0
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Upstream:
        """Keys from ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``; URLs from
        ``HARNESS_UPSTREAM_ANTHROPIC_URL`` / ``HARNESS_UPSTREAM_OPENAI_URL`` when set."""
        e = os.environ if env is None else env
        return cls(
            anthropic_url=e.get("HARNESS_UPSTREAM_ANTHROPIC_URL", cls.anthropic_url),
            openai_url=e.get("HARNESS_UPSTREAM_OPENAI_URL", cls.openai_url),
            anthropic_key=e.get("ANTHROPIC_API_KEY") or None,
            openai_key=e.get("OPENAI_API_KEY") or None,
            ca_file=e.get("SSL_CERT_FILE") or None,
        )

    def secrets(self) -> list[str]:
        return [k for k in (self.anthropic_key, self.openai_key) if k]

    def open(self, api: str, path: str, headers: dict[str, str], body: bytes
             ) -> UpstreamResponse:
        """Send one request; raise GatewayError when the upstream cannot be reached."""
        base = self.openai_url if api == "openai" else self.anthropic_url
        key = self.openai_key if api == "openai" else self.anthropic_key
        if not key:
            var = "OPENAI_API_KEY" if api == "openai" else "ANTHROPIC_API_KEY"
            raise GatewayError(f"no upstream key for {api}: set {var} for the Gateway")
        u = urlsplit(base)
        prefix = u.path.rstrip("/")
        if api == "openai" and prefix.endswith("/v1") and path.startswith("/v1/"):
            prefix = prefix[: -len("/v1")]
        out = {k: v for k, v in headers.items() if k.lower() not in _HOP}
        out["Accept-Encoding"] = "identity"
        out["Content-Length"] = str(len(body))
        if api == "openai":
            out["Authorization"] = f"Bearer {key}"
        else:
            out["x-api-key"] = key
        conn: http.client.HTTPConnection
        host = u.hostname or "localhost"
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.ca_file)
            conn = http.client.HTTPSConnection(host, u.port, timeout=self.timeout_sec,
                                               context=ctx)
        else:
            conn = http.client.HTTPConnection(host, u.port, timeout=self.timeout_sec)
        try:
            conn.request("POST", prefix + path, body=body, headers=out)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise GatewayError(f"upstream {u.scheme}://{host} unreachable: {exc}") from exc
        return UpstreamResponse(conn, resp)


class UpstreamResponse:
    """An open upstream response; iterate ``chunks()`` then ``close()``."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self._conn = conn
        self.resp = resp
        self.status = resp.status
        self.content_type = resp.getheader("Content-Type", "application/json")
        self.retry_after = resp.getheader("Retry-After")

    def chunks(self) -> Iterator[bytes]:
        while True:
            data = self.resp.read1(65536)
            if not data:
                return
            yield data

    def close(self) -> None:
        self._conn.close()
