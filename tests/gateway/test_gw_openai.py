"""The Gateway speaking OpenAI Responses, checked on the raw SSE codex consumes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable

from gw_helpers import codex_request, eventually, post, sse

from harness.gateway import Gateway


def test_text_turn_stream_shape(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    status, headers, raw = post(gw.url, "/v1/responses", codex_request("hello"), key,
                                bearer=True)
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = sse(raw)
    names = [n for n, _ in events]
    assert names == ["response.created", "response.output_item.added",
                     "response.output_text.delta", "response.output_text.done",
                     "response.output_item.done", "response.completed"]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    done = events[-1][1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Hello from the harness gateway."
    assert done["usage"]["total_tokens"] == \
        done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    assert eventually(lambda: [e.kind for e in gw.events if e.kind == "final_answer"]
                      == ["final_answer"])


def test_shell_call_becomes_exec_command_then_output_ends_turn(
        scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    _, _, raw = post(gw.url, "/v1/responses", codex_request("please make a file"), key,
                     bearer=True)
    done = sse(raw)[-1][1]["response"]
    call = done["output"][1]
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    assert json.loads(call["arguments"]) == {"cmd": "echo hi > hello.txt"}
    assert call["call_id"] and call["id"]
    _, _, raw = post(gw.url, "/v1/responses",
                     codex_request("please make a file", outputs=["exit 0"]), key, bearer=True)
    assert sse(raw)[-1][1]["response"]["output"][0]["content"][0]["text"] == \
        "Done, file written."
    assert [(e.turn, e.step, e.rule) for e in gw.exchanges("t")] == \
        [(1, 0, "shell"), (1, 1, "after-tool")]


def test_title_request_gets_json_title(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    body = codex_request("Generate a concise, single-line task title.\n\nUser prompt:\nhi",
                         tools=False)
    body["text"] = {"format": {"type": "json_schema", "name": "codex_output_schema",
                               "schema": {"type": "object"}}}
    _, _, raw = post(gw.url, "/v1/responses", body, key, bearer=True)
    text = sse(raw)[-1][1]["response"]["output"][0]["content"][0]["text"]
    assert json.loads(text) == {"title": "Scripted session"}
    assert gw.exchanges("t")[0].kind == "title"


def test_non_streaming_response_and_error_shape(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {match: {user: fail}, reply: {error: {status: 429}}}\n"
                  "  - {reply: {text: plain}}\n")
    key = gw.register_trial("t").key
    status, _, raw = post(gw.url, "/v1/responses", codex_request("x", stream=False), key,
                          bearer=True)
    assert status == 200 and json.loads(raw)["output"][0]["content"][0]["text"] == "plain"
    status, _, raw = post(gw.url, "/v1/responses", codex_request("fail"), key, bearer=True)
    assert status == 429 and json.loads(raw)["error"]["type"] == "rate_limit_exceeded"


def test_skill_names_reach_the_exchange_view(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {match: {skill: greeter}, reply: {text: saw it}}\n")
    key = gw.register_trial("t").key
    post(gw.url, "/v1/responses", codex_request("hi"), key, bearer=True)
    ex = gw.exchanges("t")[0]
    assert ex.rule == "rule[0]" and ex.view.skill_names == ("greeter",)


def test_bad_body_unknown_route_and_health(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    host, port = gw.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", "/v1/responses", body=b"{nope", headers={"authorization":
                                                                       f"Bearer {key}"})
        resp = conn.getresponse()
        assert resp.status == 400 and b"bad JSON body" in resp.read()
        conn.request("POST", "/v1/responses", body=b'"a string"',
                     headers={"authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        assert resp.status == 400 and b"not a JSON object" in resp.read()
        conn.request("GET", "/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["mode"] == "scripted"
    finally:
        conn.close()
    status, _, raw = post(gw.url, "/v1/embeddings", {}, key, bearer=True)
    assert status == 404 and b"no route" in raw
