"""What every wire protocol module gives the Gateway, and the pieces they share.

Why a Protocol and plain modules: a wire protocol is a bundle of pure functions and
constants (routes, how to read a request, how to write a reply, where its upstream lives),
so a module is the natural unit and the Gateway's modes call it through this one interface.
A new wire (OpenAI Chat Completions, Gemini) is one module satisfying :class:`Wire` plus one
line in :mod:`harness.gateway.wires`; nothing outside that module branches on its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from ..view import RequestView

#: (event name, data). An empty name writes no ``event:`` line and a str data goes out as is:
#: Chat Completions and Gemini streams are data-only and Chat ends with ``data: [DONE]``.
SseEvent = tuple[str, dict[str, Any] | str]


class Call(Protocol):
    """One tool call as the wires render it (the policy's ``Call`` is one): ``shell`` is
    the abstract shell tool each wire names its own way; ``tool`` + ``input`` go verbatim."""

    @property
    def shell(self) -> str | None: ...
    @property
    def description(self) -> str: ...
    @property
    def tool(self) -> str | None: ...
    @property
    def input(self) -> dict[str, Any]: ...


class Wire(Protocol):
    """One wire protocol. ``NAME`` labels requests, exchanges and cassette lines."""

    # read-only members, so a module's constants and a class's attributes both fit

    @property
    def NAME(self) -> str: ...
    @property
    def ROUTES(self) -> tuple[str, ...]:
        """Request paths (no query string, no trailing slash) this wire answers."""
        ...
    @property
    def PROVIDER(self) -> str:
        """The vendor whose key and URL the upstream uses (wires of one vendor share them)."""
        ...
    @property
    def UPSTREAM_BASE(self) -> str:
        """The upstream URL when the user names none."""
        ...
    @property
    def URL_ENV(self) -> str:
        """The environment variable naming another upstream URL."""
        ...
    @property
    def KEY_ENV(self) -> str:
        """The environment variable holding the real key."""
        ...

    def view(self, route: str, body: dict[str, Any]) -> RequestView:
        """The API-neutral view of one request body (route tells e.g. count_tokens)."""
        ...

    def reply(self, ans: Answer) -> dict[str, Any]:
        """The non-streaming JSON body answering with ``ans``."""
        ...

    def events(self, ans: Answer) -> list[SseEvent]:
        """The SSE events answering with ``ans`` when the request asked to stream."""
        ...

    def error(self, status: int, message: str, etype: str | None = None) -> dict[str, Any]:
        """The error body the wire's clients parse (their retry logic reads it)."""
        ...

    def count_reply(self, tokens: int) -> dict[str, Any]:
        """The body answering a token-count request (view kind ``count_tokens``)."""
        ...

    def wants_json(self, body: dict[str, Any]) -> bool:
        """True when the request asks for structured JSON output (the CLIs' title asks)."""
        ...

    def usage(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The usage mapping (``input_tokens``, ``output_tokens``) in one reply payload."""
        ...

    def is_final(self, payload: dict[str, Any]) -> bool:
        """True when this reply payload ends the model's turn without a tool call."""
        ...

    def auth_headers(self, key: str) -> dict[str, str]:
        """Headers carrying the real key upstream."""
        ...

    def upstream_url(self, base: str, path: str) -> str:
        """The upstream URL for a request that came to ``path`` (query included)."""
        ...


class Lister(Protocol):
    """An optional ability of a wire: answering GETs (a model list) with ``GET_ROUTES``.

    Why the Gateway answers them itself, in every mode: the list is the harness's
    configuration, not the model's behaviour, so it needs no upstream and no cassette line."""

    @property
    def GET_ROUTES(self) -> tuple[str, ...]: ...

    def listing(self, route: str, models: tuple[str, ...]) -> dict[str, Any]:
        """The JSON body answering a GET to ``route`` with these model names."""
        ...


@dataclass(frozen=True)
class Answer:
    """A model turn: optional text then zero or more tool calls. ``ids`` seeds call ids."""

    text: str | None = None
    calls: tuple[Call, ...] = ()
    ids: str = "0"
    model: str = "harness-scripted"
    input_tokens: int = 1
    output_tokens: int = field(default=0)
    #: the request being answered, for wires whose rendering depends on it (Chat Completions
    #: maps the shell tool onto a function the client declared, and honours stream options)
    request: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def out_tokens(self) -> int:
        if self.output_tokens:
            return self.output_tokens
        size = len(self.text or "") + sum(len(json.dumps(c.input)) + len(c.shell or "")
                                          for c in self.calls)
        return max(1, size // 4)


def estimate_tokens(raw: bytes | str) -> int:
    """A crude, deterministic size measure (4 bytes a token) for scripted replies."""
    return max(1, len(raw) // 4)


def sse_bytes(name: str, data: dict[str, Any] | str) -> bytes:
    """One SSE event; no ``event:`` line when ``name`` is empty, a str ``data`` as is."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(',', ':'))
    return (f"event: {name}\n" if name else "").encode() + f"data: {text}\n\n".encode()


def join_url(base: str, path: str, *, drop_v1: bool = False) -> str:
    """``base`` + ``path``. With ``drop_v1`` a base ending in ``/v1`` (as OpenAI-style
    base URLs conventionally do) is not doubled by a path starting with ``/v1/``."""
    u = urlsplit(base)
    prefix = u.path.rstrip("/")
    if drop_v1 and prefix.endswith("/v1") and path.startswith("/v1/"):
        prefix = prefix[: -len("/v1")]
    route, _, query = path.partition("?")
    return urlunsplit((u.scheme, u.netloc, prefix + route, query, ""))


def sse_payloads(body: str) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads of an SSE body, skipping anything unparsable."""
    out: list[dict[str, Any]] = []
    for line in body.splitlines():
        if line.startswith("data:"):
            try:
                obj = json.loads(line[5:].strip())
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def summarize(wire: Wire, body: str, *, stream: bool) -> tuple[int, int, bool]:
    """(input_tokens, output_tokens, final) of a reply body; final = no tool calls."""
    payloads = sse_payloads(body) if stream else _one_json(body)
    inp = out = 0
    final = False
    for p in payloads:
        usage = wire.usage(p)
        if usage:
            inp = max(inp, int(usage.get("input_tokens") or 0))
            out = max(out, int(usage.get("output_tokens") or 0))
        final = final or wire.is_final(p)
    return inp, out, final


def _one_json(body: str) -> list[dict[str, Any]]:
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        return []
    return [obj] if isinstance(obj, dict) else []
