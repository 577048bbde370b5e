"""Forwarding to the real model APIs (record and passthrough modes).

Why httpx (the ``httpx2`` distribution the anthropic SDK itself depends on) and not stdlib
``http.client``: it honours ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` and
``SSL_CERT_FILE`` like every other tool on a corporate network, pools connections across the
agents of a run, streams the body as it arrives (SSE must not be buffered) and bounds every
connect and read with a timeout. Its exceptions are translated into :class:`GatewayError` in
this module only. The user's real key is held only here; ``repr`` hides it and the incoming
dummy key is dropped, never forwarded.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx2 as httpx

from harness.errors import GatewayError

from . import wires

if TYPE_CHECKING:
    from .wires import Wire

_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding",
                  "te", "trailer", "upgrade", "proxy-authorization", "x-api-key",
                  "authorization", "x-goog-api-key", "accept-encoding"})


class Upstream:
    """Where record/passthrough send requests, and the real keys (kept out of repr).

    URLs and keys are per provider (a wire's ``PROVIDER``); a provider without a URL goes
    to its wire's ``UPSTREAM_BASE``. ``anthropic_url=`` and friends are shorthands for
    ``urls={"anthropic": ...}``.
    """

    def __init__(self, *, anthropic_url: str | None = None, openai_url: str | None = None,
                 anthropic_key: str | None = None, openai_key: str | None = None,
                 urls: Mapping[str, str] | None = None,
                 keys: Mapping[str, str | None] | None = None,
                 timeout_sec: float = 600.0, ca_file: str | None = None) -> None:
        named_urls = {"anthropic": anthropic_url, "openai": openai_url}
        named_keys = {"anthropic": anthropic_key, "openai": openai_key}
        self.urls: dict[str, str] = {p: u for p, u in {**named_urls, **(urls or {})}.items()
                                     if u}
        self._keys: dict[str, str] = {p: k for p, k in {**named_keys, **(keys or {})}.items()
                                      if k}
        self.timeout_sec = timeout_sec
        self.ca_file = ca_file

    def __repr__(self) -> str:
        return (f"Upstream(urls={self.urls!r}, keys for {sorted(self._keys)}, "
                f"timeout_sec={self.timeout_sec})")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Upstream:
        """Each wire's key from its ``KEY_ENV`` (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``)
        and URL from its ``URL_ENV`` (``HARNESS_UPSTREAM_ANTHROPIC_URL``, ...) when set."""
        e = os.environ if env is None else env
        urls: dict[str, str] = {}
        keys: dict[str, str | None] = {}
        for w in wires.WIRES.values():
            if e.get(w.URL_ENV):
                urls.setdefault(w.PROVIDER, e[w.URL_ENV])
            if e.get(w.KEY_ENV):
                keys.setdefault(w.PROVIDER, e[w.KEY_ENV])
        return cls(urls=urls, keys=keys, ca_file=e.get("SSL_CERT_FILE") or None)

    def secrets(self) -> list[str]:
        return list(self._keys.values())

    def url_for(self, wire: Wire) -> str:
        return self.urls.get(wire.PROVIDER) or wire.UPSTREAM_BASE

    def key_for(self, wire: Wire) -> str:
        key = self._keys.get(wire.PROVIDER)
        if not key:
            raise GatewayError(f"no upstream key for {wire.PROVIDER}: set {wire.KEY_ENV} "
                               "for the Gateway")
        return key

    def connect(self) -> Forwarder:
        """A connection pool to the upstreams; the caller closes it."""
        return Forwarder(self)


class Forwarder:
    """An httpx client and the keys to send. ``trust_env`` makes httpx read
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` and ``SSL_CERT_FILE``."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=upstream.ca_file)
                                         if upstream.ca_file else True)
        self._client = httpx.Client(timeout=httpx.Timeout(upstream.timeout_sec),
                                    verify=verify, trust_env=True, follow_redirects=False)

    def open(self, wire: Wire, path: str, headers: Mapping[str, str], body: bytes
             ) -> UpstreamResponse:
        """Send one request; raise GatewayError when the upstream cannot be reached."""
        url = wire.upstream_url(self.upstream.url_for(wire), path)
        out = {k: v for k, v in headers.items() if k.lower() not in _HOP}
        out["Accept-Encoding"] = "identity"
        out.update(wire.auth_headers(self.upstream.key_for(wire)))
        with _translated(url, "unreachable"):
            req = self._client.build_request("POST", url, content=body, headers=out)
            return UpstreamResponse(url, self._client.send(req, stream=True))

    def close(self) -> None:
        self._client.close()


class UpstreamResponse:
    """An open upstream response; iterate ``chunks()`` then ``close()``."""

    def __init__(self, url: str, resp: httpx.Response) -> None:
        self._url = url
        self.resp = resp
        self.status = resp.status_code
        self.content_type = resp.headers.get("content-type", "application/json")
        self.retry_after = resp.headers.get("retry-after")

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes as they arrive, undecoded (the cassette keeps the raw bytes)."""
        with _translated(self._url, "broke off"):
            yield from self.resp.iter_raw()

    def close(self) -> None:
        self.resp.close()


@contextmanager
def _translated(url: str, what: str) -> Iterator[None]:
    """httpx's errors as one-line GatewayErrors naming the upstream (never the key)."""
    u = urlsplit(url)
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise GatewayError(f"upstream {u.scheme}://{u.hostname} {what}: "
                           f"{exc or type(exc).__name__}") from exc
