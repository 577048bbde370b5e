"""A new wire protocol is one module (here: a class in the test) plus one registry line.

The fake ``echo`` wire below is registered, then requests to its route are answered by a
scripted Gateway, recorded through a forwarding one and replayed from the cassette, without
any other part of the Gateway knowing about it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gw_helpers import post

from harness.errors import ValidationFailed
from harness.gateway import Gateway, Upstream, parse_policy, wires
from harness.gateway.cassette import load_cassette
from harness.gateway.view import RequestView
from harness.gateway.wires.base import Answer, SseEvent, join_url


class EchoWire:
    """A toy protocol: ``{"say": text}`` in, ``{"echo": text, "tokens": {...}}`` out."""

    NAME = "echo"
    ROUTES = ("/v1/echo",)
    PROVIDER = "echo"
    UPSTREAM_BASE = "http://127.0.0.1:9"
    URL_ENV = "HARNESS_UPSTREAM_ECHO_URL"
    KEY_ENV = "ECHO_API_KEY"

    def view(self, route: str, body: dict[str, Any]) -> RequestView:
        return RequestView(api=self.NAME, kind="main", user_text=str(body.get("say", "")),
                           human_messages=1)

    def reply(self, ans: Answer) -> dict[str, Any]:
        return {"echo": ans.text, "done": not ans.calls,
                "tokens": {"input_tokens": ans.input_tokens, "output_tokens": 7}}

    def events(self, ans: Answer) -> list[SseEvent]:
        return [("echo", self.reply(ans))]

    def error(self, status: int, message: str, etype: str | None = None) -> dict[str, Any]:
        return {"oops": message, "status": status}

    def count_reply(self, tokens: int) -> dict[str, Any]:
        return {"tokens": tokens}

    def wants_json(self, body: dict[str, Any]) -> bool:
        return False

    def usage(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        return payload.get("tokens")

    def is_final(self, payload: dict[str, Any]) -> bool:
        return bool(payload.get("done"))

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def upstream_url(self, base: str, path: str) -> str:
        return join_url(base, path)


POLICY = """\
version: 1
rules:
  - name: ping
    match: {api: echo, user: "ping"}
    reply: {text: "pong"}
"""


@pytest.fixture
def echo_wire() -> Iterator[EchoWire]:
    wire = EchoWire()
    wires.register(wire)  # the one registry line
    try:
        yield wire
    finally:
        wires.unregister(wire.NAME)


def test_a_registered_wire_is_routed_answered_and_refused_in_its_own_shape(
        echo_wire: EchoWire) -> None:
    with Gateway("scripted", policy=parse_policy(POLICY)) as gw:
        key = gw.register_trial("t").key
        status, _, body = post(gw.url, "/v1/echo", {"say": "ping"}, key)
        assert (status, json.loads(body)["echo"]) == (200, "pong")
        ex = gw.exchanges("t")
        assert [(e.api, e.rule, e.final) for e in ex] == [("echo", "ping", True)]
        status, _, body = post(gw.url, "/v1/echo", {"say": "ping"}, "sk-wrong")
        assert status == 401 and "unknown API key" in json.loads(body)["oops"]
        wires.unregister("echo")
        status, _, _ = post(gw.url, "/v1/echo", {"say": "ping"}, key)
        assert status == 404


def test_a_registered_wire_records_and_replays(echo_wire: EchoWire, tmp_path: Path) -> None:
    cassette = tmp_path / "echo.jsonl"
    with Gateway("scripted", policy=parse_policy(POLICY)) as vendor:
        vendor_key = vendor.register_trial("vendor").key
        up = Upstream(urls={"echo": vendor.url}, keys={"echo": vendor_key}, timeout_sec=10)
        with Gateway("record", cassette=cassette, upstream=up) as rec:
            status, _, body = post(rec.url, "/v1/echo", {"say": "ping"},
                                   rec.register_trial("r").key)
            assert (status, json.loads(body)["echo"]) == (200, "pong")
            assert [e.final for e in rec.exchanges("r")] == [True]  # the wire's is_final
            assert rec.usage("r").output_tokens == 7  # read by the wire's usage()
    assert [e.api for e in load_cassette(cassette)] == ["echo"]
    with Gateway("replay", cassette=cassette) as rep:
        status, _, body = post(rep.url, "/v1/echo", {"say": "ping"},
                               rep.register_trial("p").key)
        assert (status, json.loads(body)["echo"]) == (200, "pong")
        assert [e.rule for e in rep.exchanges("p")] == ["cassette line 1"]


def test_a_wire_cannot_take_another_wires_route() -> None:
    thief = EchoWire()
    thief.ROUTES = ("/v1/messages",)
    with pytest.raises(ValueError, match="belongs to 'anthropic'"):
        wires.register(thief)
    assert "echo" not in wires.names()


def test_a_policy_naming_an_unknown_wire_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="unknown api 'echo'"):
        parse_policy(POLICY)
