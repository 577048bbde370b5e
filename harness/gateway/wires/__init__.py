"""The wire protocols the Gateway speaks, by name: one module each, one line here.

Why a registry: routing, the cassette format, policies' ``api:`` matcher and the upstream's
keys all need "which wires exist"; asking here (instead of naming the two wires in each
place) makes a new wire one module satisfying :class:`~.base.Wire` plus one line below.
Tests may :func:`register` a fake wire and must :func:`unregister` it again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import cast

from . import anthropic, gemini, openai_chat, openai_responses
from .base import Answer, Lister, SseEvent, Wire, estimate_tokens, sse_bytes, summarize

WIRES: dict[str, Wire] = {
    anthropic.NAME: anthropic,
    openai_responses.NAME: openai_responses,
    openai_chat.NAME: openai_chat,
    gemini.NAME: gemini,
}


def register(wire: Wire) -> Wire:
    """Add a wire; its routes must not clash with a registered wire's."""
    taken = {r: w.NAME for w in WIRES.values() for r in _routes(w) if w.NAME != wire.NAME}
    clash = [r for r in _routes(wire) if r in taken]
    if clash:
        raise ValueError(f"wire {wire.NAME!r}: route {clash[0]} belongs to {taken[clash[0]]!r}")
    WIRES[wire.NAME] = wire
    return wire


def unregister(name: str) -> None:
    WIRES.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(WIRES)


def get(name: str) -> Wire:
    try:
        return WIRES[name]
    except KeyError:
        raise KeyError(f"no wire protocol {name!r}; known: {', '.join(WIRES)}") from None


def route_of(path: str) -> str:
    """A request path without query string or trailing slash, as ``ROUTES`` lists them."""
    return path.split("?")[0].rstrip("/")


def get_routes(wire: Wire) -> tuple[str, ...]:
    """The routes a wire answers GETs on (an optional ability, see :class:`~.base.Lister`)."""
    return tuple(getattr(wire, "GET_ROUTES", ()))


def _routes(wire: Wire) -> tuple[str, ...]:
    return (*wire.ROUTES, *get_routes(wire))


@lru_cache(maxsize=256)
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("[^/:]+".join(re.escape(p) for p in parts))


def matches(template: str, route: str) -> bool:
    """True when ``route`` is ``template``, whose ``{name}`` parts stand for one path
    segment (the Gemini API names the model in the path: ``/v1beta/models/{model}:...``)."""
    return route == template or ("{" in template and _pattern(template).fullmatch(route)
                                 is not None)


def for_path(path: str, method: str = "POST") -> Wire | None:
    """The wire answering ``method`` requests to ``path``, or None (an unknown route)."""
    route = route_of(path)
    return next((w for w in WIRES.values()
                 if any(matches(t, route) for t in
                        (get_routes(w) if method == "GET" else w.ROUTES))), None)


def lister(wire: Wire) -> Lister:
    """The wire as a :class:`~.base.Lister`; only for a wire that has ``GET_ROUTES``."""
    return cast(Lister, wire)


__all__ = ["WIRES", "Answer", "Lister", "SseEvent", "Wire", "estimate_tokens", "for_path",
           "get", "get_routes", "lister", "matches", "names", "register", "route_of",
           "sse_bytes", "summarize", "unregister"]
