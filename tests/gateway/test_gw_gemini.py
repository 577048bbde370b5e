"""The Gateway speaking the Gemini API, driven by raw HTTP shaped like Gemini CLI's requests
(the @google/genai client: ``x-goog-api-key``, ``:streamGenerateContent?alt=sse``), in all
four modes; the claude/codex demo policy serves it unchanged.

No Gemini CLI is installed here yet: the request shapes follow the API's documented form,
and which side calls the real CLI makes at start-up is still to be recorded.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gw_helpers import eventually

from harness.gateway import Gateway, Upstream
from harness.gateway.cassette import load_cassette
from harness.gateway.wires import Lister, Wire, for_path, gemini, matches

WIRE: Wire = gemini  # mypy proves the module fits the Wire interface ...
LISTER: Lister = gemini  # ... and the optional GET ability

MODEL = "gemini-2.5-pro"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
PLAIN = f"/v1beta/models/{MODEL}:generateContent"
COUNT = f"/v1beta/models/{MODEL}:countTokens"
TOOLS = [{"functionDeclarations": [
    {"name": "run_shell_command", "description": "Runs a shell command.",
     "parametersJsonSchema": {"type": "object", "required": ["command", "is_background"],
                              "properties": {"command": {"type": "string"},
                                             "description": {"type": "string"},
                                             "is_background": {"type": "boolean"}}}},
    {"name": "read_file", "description": "Reads a file.", "parametersJsonSchema": {}}]}]
CONTEXT = ("This is the Gemini CLI. We are setting up the context for our chat.\n"
           "I'm currently working in the directory: /w")


def gen(text: str, *, rounds: list[tuple[dict[str, Any], str]] | None = None,
        tools: bool = True) -> dict[str, Any]:
    """A generateContent body; ``rounds`` are (function call part, its output) pairs."""
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": CONTEXT}]},
        {"role": "model", "parts": [{"text": "Got it. Thanks for the context!"}]},
        {"role": "user", "parts": [{"text": text}]},
    ]
    for call, output in rounds or []:
        contents.append({"role": "model", "parts": [call]})
        contents.append({"role": "user", "parts": [{"functionResponse": {
            "name": call["functionCall"]["name"], "response": {"output": output}}}]})
    body: dict[str, Any] = {
        "contents": contents,
        "systemInstruction": {"role": "user", "parts": [{"text": "You are an interactive "
                                                                 "CLI agent."}]},
        "generationConfig": {"temperature": 0, "maxOutputTokens": 1024}}
    if tools:
        body["tools"] = TOOLS
    return body


def request(url: str, method: str, path: str, key: str | None,
            body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw request; ``key`` goes in ``x-goog-api-key`` (None: the path carries it)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-goog-api-key"] = key
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The stream's chunks: each frame exactly one ``data:`` line holding a response."""
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            lines = block.split("\n")
            assert len(lines) == 1 and lines[0].startswith("data: "), block
            out.append(json.loads(lines[0].removeprefix("data: ")))
    return out


def parts_of(responses: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str]:
    """(text, function calls, finish reason) as a client assembles them."""
    text, calls, finish = "", [], ""
    for r in responses:
        [cand] = r["candidates"]
        assert cand["content"]["role"] == "model"
        for p in cand["content"]["parts"]:
            text += p.get("text", "")
            if "functionCall" in p:
                calls.append(p["functionCall"])
        finish = cand.get("finishReason", finish)
    return text, calls, finish


def test_streamed_text_turn_known_shape(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    status, headers, raw = request(gw.url, "POST", STREAM, key, gen("hello"))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    got = chunks(raw)
    assert parts_of(got) == ("Hello from the harness gateway.", [], "STOP")
    *body, last = got
    assert all("finishReason" not in c["candidates"][0] and "usageMetadata" not in c
               for c in body)
    u = last["usageMetadata"]
    assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"]
    assert last["modelVersion"] == MODEL
    usage = gw.usage("t")
    assert (usage.input_tokens, usage.output_tokens) == \
        (u["promptTokenCount"], u["candidatesTokenCount"])
    [ex] = gw.exchanges("t")
    assert (ex.api, ex.rule, ex.final, ex.view.model, ex.view.human_messages) == \
        ("gemini", "hello", True, MODEL, 2)
    assert ex.headers["x-goog-api-key"] == "<redacted>"
    assert eventually(lambda: [e.kind for e in gw.events if e.kind == "final_answer"]
                      == ["final_answer"])


def test_function_call_then_function_response(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", STREAM, key, gen("please make a file"))
    got = chunks(raw)
    text, [call], finish = parts_of(got)
    assert (text, finish) == ("Creating it.", "STOP")
    assert call == {"name": "run_shell_command",
                    "args": {"command": "echo hi > hello.txt", "description": "write hello.txt",
                             "is_background": False}}
    assert "functionCall" in got[-1]["candidates"][0]["content"]["parts"][0]  # beside STOP
    _, _, raw = request(gw.url, "POST", STREAM, key,
                        gen("please make a file", rounds=[({"functionCall": call}, "")]))
    assert parts_of(chunks(raw))[0] == "Done, file written."
    assert [(e.turn, e.step, e.rule, e.final) for e in gw.exchanges("t")] == \
        [(1, 0, "shell", False), (1, 1, "after-tool", True)]


def test_plain_reply_count_tokens_and_key_in_the_query(
        scripted: Callable[..., Gateway], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="harness.gateway")
    gw = scripted()
    key = gw.register_trial("t").key
    status, headers, raw = request(gw.url, "POST", f"{PLAIN}?key={key}", None,
                                   gen("please make a file"))
    assert status == 200 and headers["content-type"] == "application/json"
    text, [call], finish = parts_of([json.loads(raw)])
    assert (text, call["name"], finish) == ("Creating it.", "run_shell_command", "STOP")
    assert json.loads(raw)["usageMetadata"]["candidatesTokenCount"] == \
        gw.usage("t").output_tokens
    assert key not in gw.exchanges("t")[0].path  # the key= left the path at the door
    assert "key=<redacted>" in caplog.text and key not in caplog.text
    status, _, raw = request(gw.url, "POST", COUNT, key, {"contents": gen("x")["contents"]})
    assert status == 200 and json.loads(raw)["totalTokens"] > 1
    assert [e.kind for e in gw.exchanges("t")] == ["main", "count_tokens"]


def test_errors_faults_auxiliary_json_and_models(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("title: Scripted session\nrules:\n"
                  "  - {match: {user: limit}, reply: {error: {status: 429, message: slow}}}\n"
                  "  - {match: {user: flaky}, fault: {status: 503, first: 1}, reply: {text: ok}}\n")
    key = gw.register_trial("t", model=MODEL).key
    status, _, raw = request(gw.url, "POST", STREAM, key, gen("limit"))
    assert (status, json.loads(raw)) == (429, {"error": {"code": 429, "message": "slow",
                                                         "status": "RESOURCE_EXHAUSTED"}})
    status, _, raw = request(gw.url, "POST", STREAM, key, gen("flaky"))
    assert status == 503 and json.loads(raw)["error"]["status"] == "UNAVAILABLE"
    status, _, raw = request(gw.url, "POST", STREAM, key, gen("flaky"))
    assert status == 200 and parts_of(chunks(raw))[0] == "ok"
    status, _, raw = request(gw.url, "POST", STREAM, "wrong", gen("flaky"))
    assert status == 401 and json.loads(raw)["error"]["status"] == "UNAUTHENTICATED"
    # a side call asking for JSON without tools (the next-speaker check) never reaches rules
    aux = gen("Analyze only the content and structure of your immediately preceding "
              "response", tools=False)
    aux["generationConfig"]["responseJsonSchema"] = {"type": "object"}
    status, _, raw = request(gw.url, "POST", PLAIN, key, aux)
    assert json.loads(parts_of([json.loads(raw)])[0]) == {"title": "Scripted session"}
    assert gw.exchanges("t")[-1].kind == "title"
    status, _, raw = request(gw.url, "GET", "/v1beta/models", key)
    assert json.loads(raw)["models"][0]["name"] == f"models/{MODEL}"


def test_keys_and_urls_from_the_environment() -> None:
    up = Upstream.from_env({"GEMINI_API_KEY": "g-key", "OPENAI_API_KEY": "o-key",
                            "HARNESS_UPSTREAM_OPENAI_URL": "http://127.0.0.1:1/v1"})
    assert up.key_for(gemini) == "g-key" and up.url_for(gemini) == gemini.UPSTREAM_BASE
    assert "g-key" not in repr(up)
    assert gemini.upstream_url(up.url_for(gemini), STREAM) == \
        f"{gemini.UPSTREAM_BASE}{STREAM}"


def test_route_templates() -> None:
    assert matches("/v1beta/models/{model}:generateContent",
                   "/v1beta/models/gemini-2.5-flash:generateContent")
    assert not matches("/v1beta/models/{model}:generateContent",
                       "/v1beta/models/a/b:generateContent")
    assert not matches("/v1beta/models/{model}:generateContent",
                       "/v1beta/models/m:generateContentX")
    assert for_path(f"{STREAM}") is gemini and for_path("/v1beta/models/m:embed") is None
    assert for_path("/v1beta/models", "GET") is gemini


# ---------------------------------------------------------------- record, replay, passthrough


CALL = {"functionCall": {"name": "run_shell_command", "args": {"command": "x"}}}
CONVERSATION = [(STREAM, gen("hello")), (PLAIN, gen("hello again")),
                (STREAM, gen("please make a file")),
                (STREAM, gen("please make a file", rounds=[(CALL, "")]))]


def _converse(gw: Gateway, key: str, *, in_query: bool = False) -> list[bytes]:
    out = []
    for path, body in CONVERSATION:
        sep = "&" if "?" in path else "?"
        status, _, raw = request(gw.url, "POST", f"{path}{sep}key={key}" if in_query else path,
                                 None if in_query else key, body)
        assert status == 200, raw
        out.append(raw)
    return out


def _seen(raws: list[bytes]) -> list[tuple[str, list[dict[str, Any]], str]]:
    return [parts_of(chunks(raw) if "alt=sse" in path else [json.loads(raw)])
            for (path, _), raw in zip(CONVERSATION, raws, strict=True)]


def test_record_replay_and_passthrough(scripted: Callable[..., Gateway],
                                       tmp_path: Path) -> None:
    vendor = scripted()
    real_key = vendor.register_trial("vendor").key
    direct = _seen(_converse(vendor, real_key))
    assert [(t, len(c)) for t, c, _ in direct] == [
        ("Hello from the harness gateway.", 0), ("Hello from the harness gateway.", 0),
        ("Creating it.", 1), ("Done, file written.", 0)]
    vendor_usage = vendor.usage("vendor")
    cassette = tmp_path / "gemini.jsonl"
    up = Upstream(urls={"gemini": vendor.url}, keys={"gemini": real_key}, timeout_sec=10)
    with Gateway("record", cassette=cassette, upstream=up) as rec:
        key = rec.register_trial("r").key
        recorded = _converse(rec, key, in_query=True)
        assert _seen(recorded) == direct
        assert [e.final for e in rec.exchanges("r")] == [True, True, False, True]
        u = rec.usage("r")
        assert (u.requests, u.input_tokens, u.output_tokens) == \
            (4, vendor_usage.input_tokens, vendor_usage.output_tokens)
    text = cassette.read_text()
    assert real_key not in text and key not in text
    assert [(e.api, e.path) for e in load_cassette(cassette)] == \
        [("gemini", p) for p, _ in CONVERSATION]

    with Gateway("replay", cassette=cassette) as rep:
        assert _converse(rep, rep.register_trial("p").key) == recorded
        assert [e.final for e in rep.exchanges("p")] == [True, True, False, True]

    with Gateway("passthrough", upstream=up) as live:
        assert _seen(_converse(live, live.register_trial("l").key)) == direct
    assert vendor.usage("vendor").requests == 12
