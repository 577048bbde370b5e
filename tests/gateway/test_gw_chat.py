"""The Gateway speaking OpenAI Chat Completions, driven by raw HTTP as aider, Qwen Code and
opencode send it, in all four modes; the claude/codex demo policy serves it unchanged.

The streamed answers are parsed byte by byte (data-only SSE, ``chat.completion.chunk``
objects, ``tool_calls`` deltas by index, the finish reason, the usage chunk, ``[DONE]``).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gw_helpers import eventually

from harness.gateway import Gateway, GatewayEvent, Upstream
from harness.gateway.cassette import load_cassette
from harness.gateway.wires import Lister, Wire, openai_chat

WIRE: Wire = openai_chat  # mypy proves the module fits the Wire interface ...
LISTER: Lister = openai_chat  # ... and the optional GET ability

PATH = "/v1/chat/completions"
SYSTEM = "You are a coding agent. Use the tools to act in the workspace."
#: Qwen Code's shell tool: ``is_background`` is required
QWEN_TOOLS = [{"type": "function", "function": {
    "name": "run_shell_command", "description": "Runs a shell command.",
    "parameters": {"type": "object", "required": ["command", "is_background"], "properties": {
        "command": {"type": "string"}, "description": {"type": "string"},
        "directory": {"type": "string"}, "is_background": {"type": "boolean"}}}}},
    {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
#: opencode's shell tool, with its skill tool listing the installed skills
OPENCODE_TOOLS = [{"type": "function", "function": {
    "name": "bash", "description": "Executes a bash command.",
    "parameters": {"type": "object", "required": ["command", "description"], "properties": {
        "command": {"type": "string"}, "timeout": {"type": "number"},
        "description": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "skill", "parameters": {"type": "object"},
        "description": "Load a skill.\n<available_skills>\n  <skill>\n    <name>greeter</name>"
                       "\n    <description>Greets people\n warmly.</description>\n  </skill>"
                       "\n</available_skills>"}}]


def chat(text: str, *, tools: list[dict[str, Any]] | None = None, stream: bool = True,
         usage: bool = True, rounds: list[tuple[dict[str, Any], str]] | None = None,
         model: str = "qwen3-coder") -> dict[str, Any]:
    """A Chat Completions request; ``rounds`` are (assistant tool call, its output) pairs."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": text}]},
    ]
    for call, output in rounds or []:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream,
                            "max_completion_tokens": 512}
    if tools is not None:
        body["tools"] = tools
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return body


def request(url: str, method: str, path: str, key: str, body: dict[str, Any] | None = None,
            timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One raw request with ``Authorization: Bearer``, as the OpenAI clients send it."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def frames(raw: bytes) -> list[dict[str, Any] | str]:
    """The SSE frames of a Chat Completions stream: each must be exactly one ``data:`` line
    (no ``event:`` lines); JSON objects parsed, ``[DONE]`` kept as the string."""
    out: list[dict[str, Any] | str] = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), block
        data = lines[0].removeprefix("data: ")
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def assembled(raw: bytes) -> dict[str, Any]:
    """What a client assembles from the chunks: text, calls by index, finish, usage."""
    fs = frames(raw)
    assert fs[-1] == "[DONE]" and "[DONE]" not in fs[:-1]
    chunks = [f for f in fs[:-1] if isinstance(f, dict)]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, Any]] = {}
    for c in chunks:
        if c.get("usage"):
            usage = c["usage"]
        for ch in c["choices"]:
            d = ch["delta"]
            text += d.get("content") or ""
            for tc in d.get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], {"id": None, "name": None, "args": ""})
                if "id" in tc:
                    assert slot["id"] is None, "id sent twice"
                    slot.update(id=tc["id"], type=tc["type"], name=tc["function"]["name"])
                    assert tc["function"]["arguments"] == ""
                else:
                    assert slot["id"] is not None, "arguments before the call's first delta"
                slot["args"] += tc["function"].get("arguments", "")
            if ch["finish_reason"] is not None:
                assert finish is None
                finish = ch["finish_reason"]
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant"
    return {"text": text, "calls": [calls[i] for i in sorted(calls)], "finish": finish,
            "usage": usage, "chunks": chunks}


# ---------------------------------------------------------------- scripted


def test_streamed_text_turn_known_shape_with_usage(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    status, headers, raw = request(gw.url, "POST", PATH, key, chat("hello", tools=QWEN_TOOLS))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    got = assembled(raw)
    assert got["text"] == "Hello from the harness gateway." and got["calls"] == []
    assert got["finish"] == "stop"
    *body, last = got["chunks"]
    assert last["choices"] == [] and all(c["usage"] is None for c in body)
    u = last["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["prompt_tokens"] > 1 and u["completion_tokens"] >= 1
    assert body[-1]["choices"][0]["finish_reason"] == "stop"
    assert last["model"] == "qwen3-coder"
    usage = gw.usage("t")
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == \
        (1, u["prompt_tokens"], u["completion_tokens"])
    ex = gw.exchanges("t")
    assert [(e.api, e.rule, e.final) for e in ex] == [("openai_chat", "hello", True)]
    assert ex[0].headers["authorization"] == "<redacted>"
    assert eventually(lambda: [e.kind for e in gw.events if e.kind == "final_answer"]
                      == ["final_answer"])


def test_stream_without_include_usage_has_no_usage_chunk(
        scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", PATH, key, chat("hello", usage=False))
    got = assembled(raw)
    assert got["usage"] is None and got["finish"] == "stop"
    assert all("usage" not in c and c["choices"] for c in got["chunks"])


def test_tool_call_across_two_turns_maps_shell_onto_qwens_tool(
        scripted: Callable[..., Gateway]) -> None:
    """The demo policy's abstract shell call becomes ``run_shell_command`` with its required
    ``is_background``; the tool message that comes back matches ``tool_result``."""
    gw = scripted()
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", PATH, key, chat("please make a file", tools=QWEN_TOOLS))
    got = assembled(raw)
    assert got["text"] == "Creating it." and got["finish"] == "tool_calls"
    [call] = got["calls"]
    assert (call["name"], call["type"]) == ("run_shell_command", "function")
    assert json.loads(call["args"]) == {"command": "echo hi > hello.txt",
                                        "description": "write hello.txt",
                                        "is_background": False}
    deltas = [tc for c in got["chunks"] for ch in c["choices"]
              for tc in ch["delta"].get("tool_calls") or []]
    assert len(deltas) == 3 and {d["index"] for d in deltas} == {0}  # name, then 2 fragments
    assert all(d["function"]["arguments"] for d in deltas[1:])
    sent = {"id": call["id"], "type": "function",
            "function": {"name": call["name"], "arguments": call["args"]}}
    _, _, raw = request(gw.url, "POST", PATH, key,
                        chat("please make a file", tools=QWEN_TOOLS, rounds=[(sent, "")]))
    assert assembled(raw)["text"] == "Done, file written."
    assert [(e.turn, e.step, e.rule, e.final) for e in gw.exchanges("t")] == \
        [(1, 0, "shell", False), (1, 1, "after-tool", True)]


def test_non_streaming_tool_call_maps_onto_opencodes_bash(
        scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    status, headers, raw = request(gw.url, "POST", PATH, key,
                                   chat("please make a file", tools=OPENCODE_TOOLS,
                                        stream=False))
    assert status == 200 and headers["content-type"] == "application/json"
    obj = json.loads(raw)
    assert obj["object"] == "chat.completion" and obj["id"].startswith("chatcmpl-")
    [choice] = obj["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["index"] == 0
    msg = choice["message"]
    assert msg["role"] == "assistant" and msg["content"] == "Creating it."
    [tc] = msg["tool_calls"]
    assert tc["type"] == "function" and tc["function"]["name"] == "bash" and tc["id"]
    assert json.loads(tc["function"]["arguments"]) == {"command": "echo hi > hello.txt",
                                                       "description": "write hello.txt"}
    u = obj["usage"]
    assert gw.usage("t").output_tokens == u["completion_tokens"] >= 1
    assert gw.exchanges("t")[0].final is False


def test_a_client_without_tools_gets_the_command_as_text(
        scripted: Callable[..., Gateway]) -> None:
    """aider declares no tools: the shell call is a fenced bash block. The answer does not
    end the turn (aider runs the block, the harness's continue message asks for the rest),
    so no ``final_answer`` event marks it: done-detection is measured from the last one."""
    gw = scripted()
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", PATH, key, chat("please make a file", stream=False))
    msg = json.loads(raw)["choices"][0]
    assert msg["finish_reason"] == "stop" and "tool_calls" not in msg["message"]
    assert msg["message"]["content"] == "Creating it.\n\n```bash\necho hi > hello.txt\n```"
    assert gw.exchanges("t")[0].final is False
    # the events are stamped after the last byte went out: wait for the response's end
    assert eventually(lambda: [e.kind for e in gw.events] == ["request", "response_end"]), gw.events


def test_skill_rule_and_title_request(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("title: Scripted session\nrules:\n"
                  "  - {match: {skill: 'greeter: Greets people warmly'}, reply: {text: saw it}}\n")
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", PATH, key, chat("hi", tools=OPENCODE_TOOLS))
    assert assembled(raw)["text"] == "saw it"
    assert gw.exchanges("t")[0].view.skill_names == ("greeter",)
    title = {"model": "m", "stream": False, "messages": [
        {"role": "system", "content": "You are a title generator. You output ONLY a thread "
                                      "title."},
        {"role": "user", "content": "hi"}]}
    _, _, raw = request(gw.url, "POST", PATH, key, title)
    assert json.loads(raw)["choices"][0]["message"]["content"] == "Scripted session"
    assert gw.exchanges("t")[1].kind == "title"


#: the shape of opencode 1.18.33's title request (its system prompt cut to what matters):
#: one plain line is asked for, and a file name among its examples ends in ``.json``
OPENCODE_TITLE_SYSTEM = (
    "You are a title generator. You output ONLY a thread title. Nothing else.\n\n<task>\n"
    "Your output must be:\n- A single line\n- \u226450 characters\n- No explanations\n</task>\n"
    "<examples>\n\"look at @config.json\" \u2192 Config review\n</examples>\n")


def opencode_title(text: str) -> dict[str, Any]:
    return {"model": "m", "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": 32000, "temperature": 0.5, "messages": [
                {"role": "system", "content": OPENCODE_TITLE_SYSTEM},
                {"role": "user", "content": "Generate a title for this conversation:\n"},
                {"role": "user", "content": text}]}


def test_opencode_title_is_one_plain_line_and_leaves_the_script(scripted: Callable[..., Gateway]) -> None:
    """opencode's title request gets the policy's title as plain text (a JSON object became
    its session title), whenever it comes, and the scripted steps go on as if it never came."""
    gw = scripted("title: Scripted session\nrules:\n"
                  "  - {match: {user: notes, step: 0}, reply: {text: writing, shell: 'echo 1 > n'}}\n"
                  "  - {match: {user: notes, step: 1}, times: 1, reply: {text: all written}}\n"
                  "default: {text: off script}\n")
    key = gw.register_trial("t").key
    _, _, raw = request(gw.url, "POST", PATH, key, opencode_title("write the notes"))
    assert assembled(raw)["text"] == "Scripted session"
    first = assembled(request(gw.url, "POST", PATH, key, chat("write the notes", tools=OPENCODE_TOOLS))[2])
    assert first["text"] == "writing" and first["calls"][0]["name"] == "bash"
    call = {"id": first["calls"][0]["id"], "type": "function",
            "function": {"name": "bash", "arguments": first["calls"][0]["args"]}}
    # a title request in the middle of the tool round (opencode's comes when it likes)
    assert assembled(request(gw.url, "POST", PATH, key, opencode_title("write the notes"))[2])["text"] \
        == "Scripted session"
    after = chat("write the notes", tools=OPENCODE_TOOLS, rounds=[(call, "1")])
    assert assembled(request(gw.url, "POST", PATH, key, after)[2])["text"] == "all written"
    xs = gw.exchanges("t")
    assert [(x.kind, x.turn, x.step, x.rule) for x in xs] == [
        ("title", 1, 0, "title"), ("main", 1, 0, "rule[0]"), ("title", 1, 0, "title"),
        ("main", 1, 1, "rule[1]")]
    assert [x.final for x in xs] == [False, False, False, True]
    def finals() -> list[GatewayEvent]:
        return [e for e in gw.events if e.trial_id == "t" and e.kind == "final_answer"]
    # stamped just after the last byte is flushed: the client may have its answer first
    assert eventually(lambda: len(finals()) == 1), finals()


def test_upstream_base_with_or_without_v1() -> None:
    """``OPENAI_BASE_URL`` style bases end in ``/v1``; the path is not doubled."""
    for base in ("http://up:8/v1", "http://up:8/v1/", "http://up:8"):
        assert openai_chat.upstream_url(base, PATH) == f"http://up:8{PATH}"
    assert openai_chat.upstream_url("http://up:8/proxy/v1", PATH) == f"http://up:8/proxy{PATH}"
    up = Upstream.from_env({"OPENAI_API_KEY": "o-key",
                            "HARNESS_UPSTREAM_OPENAI_URL": "http://up:8/v1"})
    assert (up.key_for(openai_chat), up.url_for(openai_chat)) == ("o-key", "http://up:8/v1")
    assert openai_chat.auth_headers("o-key") == {"Authorization": "Bearer o-key"}


def test_the_request_view() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}
    body = chat("<system-reminder>x</system-reminder>go on", tools=OPENCODE_TOOLS,
                rounds=[(call, "one"), (dict(call, id="c2"), "two")])
    body["messages"].insert(1, {"role": "developer", "content": "Be brief."})
    v = openai_chat.parse(body)
    assert (v.api, v.kind, v.model, v.stream) == ("openai_chat", "main", "qwen3-coder", True)
    assert v.user_text == "go on" and v.system == f"{SYSTEM}\nBe brief."
    assert (v.step, v.tool_results, v.human_messages) == (2, ("two",), 1)
    assert v.tools == ("bash", "skill") and v.skills == (("greeter", "Greets people warmly."),)
    assert v.extra == {"max_tokens": 512, "include_usage": True}
    body["messages"].append({"role": "tool", "tool_call_id": "c3", "content": [
        {"type": "text", "text": "three"}]})
    assert openai_chat.parse(body).tool_results == ("two", "three")
    assert openai_chat.parse(body).step == 2  # one round may answer several calls


def test_errors_faults_and_keys(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n"
                  "  - {match: {user: limit}, reply: {error: {status: 429, message: slow down,"
                  " retry_after_sec: 3}}}\n"
                  "  - {match: {user: flaky}, fault: {status: 529, first: 1}, reply: {text: ok}}\n"
                  "  - {match: {user: wait}, fault: {latency_sec: 30}, reply: {text: late}}\n"
                  "  - {match: {user: cut}, fault: {cut_after_events: 1}, reply: {text: cut}}\n")
    key = gw.register_trial("t").key
    status, headers, raw = request(gw.url, "POST", PATH, key, chat("limit"))
    assert (status, headers["retry-after"]) == (429, "3")
    assert json.loads(raw) == {"error": {"message": "slow down", "type": "requests",
                                         "param": None, "code": "rate_limit_exceeded"}}
    status, _, raw = request(gw.url, "POST", PATH, key, chat("flaky"))
    assert status == 529 and json.loads(raw)["error"]["type"] == "server_error"
    status, _, raw = request(gw.url, "POST", PATH, key, chat("flaky"))  # the retry
    assert status == 200 and assembled(raw)["text"] == "ok"
    status, _, raw = request(gw.url, "POST", PATH, "sk-harness-wrong", chat("flaky"))
    assert status == 401 and json.loads(raw)["error"]["code"] == "invalid_api_key"
    with pytest.raises(http.client.IncompleteRead):
        request(gw.url, "POST", PATH, key, chat("cut"))
    assert gw.exchanges("t")[-1].note == "stream cut in event 1"

    got: list[bytes] = []

    def wait() -> None:
        try:
            got.append(request(gw.url, "POST", PATH, key, chat("wait"), timeout=60)[2])
        except OSError:
            pass  # the Gateway's close cuts it
    t = threading.Thread(target=wait, daemon=True)
    t.start()
    assert eventually(lambda: gw.stalled("t", 0.0) is not None, timeout_sec=10)
    why = gw.stalled("t", 0.0)
    assert why is not None and "openai_chat main" in why
    gw.close()  # the latency is cut short, the client gets no answer
    t.join(timeout=20)
    assert not t.is_alive() and got == []


def test_models_list_and_unknown_routes(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t", model="qwen3-coder-plus").key
    status, _, raw = request(gw.url, "GET", "/v1/models", key)
    assert status == 200
    assert json.loads(raw) == {"object": "list", "data": [
        {"id": "qwen3-coder-plus", "object": "model", "created": 0, "owned_by": "harness"}]}
    request(gw.url, "POST", PATH, key, chat("hello", model="other"))
    _, _, raw = request(gw.url, "GET", "/v1/models/", key)
    assert [m["id"] for m in json.loads(raw)["data"]] == ["qwen3-coder-plus", "other"]
    assert gw.usage("t").requests == 1  # listings are no model turns
    assert [e.kind for e in gw.events if e.kind == "listing"] == ["listing", "listing"]
    status, _, raw = request(gw.url, "GET", "/v1/models", "sk-harness-wrong")
    assert status == 401 and json.loads(raw)["error"]["code"] == "invalid_api_key"
    for method, path in (("GET", PATH), ("POST", "/v1/models"), ("GET", "/v1/embeddings")):
        status, _, raw = request(gw.url, method, path, key, {} if method == "POST" else None)
        assert status == 404 and json.loads(raw)["error"]["message"] == \
            f"harness gateway: no route {method} {path}"


# ---------------------------------------------------------------- record, replay, passthrough


TOOL_CALL = {"id": "call_x", "type": "function",
             "function": {"name": "run_shell_command", "arguments": "{}"}}
CONVERSATION = [  # a streamed text turn, a non-streamed one, a tool turn over two requests
    chat("hello", tools=QWEN_TOOLS),
    chat("hello again", tools=QWEN_TOOLS, stream=False),
    chat("please make a file", tools=QWEN_TOOLS),
    chat("please make a file", tools=QWEN_TOOLS, rounds=[(TOOL_CALL, "")]),
]


def _converse(gw: Gateway, key: str) -> list[bytes]:
    out = []
    for body in CONVERSATION:
        status, _, raw = request(gw.url, "POST", PATH, key, body)
        assert status == 200, raw
        out.append(raw)
    return out


def _contents(raws: list[bytes]) -> list[tuple[str, list[Any], str | None]]:
    seen = []
    for body, raw in zip(CONVERSATION, raws, strict=True):
        if body["stream"]:
            got = assembled(raw)
            seen.append((got["text"], [(c["name"], c["args"]) for c in got["calls"]],
                         got["finish"]))
        else:
            ch = json.loads(raw)["choices"][0]
            seen.append((ch["message"]["content"], ch["message"].get("tool_calls", []),
                         ch["finish_reason"]))
    return seen


def test_record_replay_and_passthrough(scripted: Callable[..., Gateway],
                                       tmp_path: Path) -> None:
    vendor = scripted()  # stands in for the vendor API; its trial key plays the real key
    real_key = vendor.register_trial("vendor").key
    direct = _contents(_converse(vendor, real_key))
    assert [(t, bool(c), f) for t, c, f in direct] == [
        ("Hello from the harness gateway.", False, "stop"),
        ("Hello from the harness gateway.", False, "stop"),
        ("Creating it.", True, "tool_calls"), ("Done, file written.", False, "stop")]
    vendor_usage = vendor.usage("vendor")
    cassette = tmp_path / "chat.jsonl"
    up = Upstream(openai_url=vendor.url + "/v1", openai_key=real_key, timeout_sec=10)
    with Gateway("record", cassette=cassette, upstream=up) as rec:
        key = rec.register_trial("r").key
        recorded = _converse(rec, key)
        assert _contents(recorded) == direct
        assert [e.final for e in rec.exchanges("r")] == [True, True, False, True]
        u = rec.usage("r")  # read back from the answers' usage by the wire
        assert (u.requests, u.input_tokens, u.output_tokens) == \
            (4, vendor_usage.input_tokens, vendor_usage.output_tokens)
    text = cassette.read_text()
    assert real_key not in text and key not in text
    assert [e.api for e in load_cassette(cassette)] == ["openai_chat"] * 4

    with Gateway("replay", cassette=cassette) as rep:
        replayed = _converse(rep, rep.register_trial("p").key)
        assert replayed == recorded  # the recorded bytes, chunk for chunk
        assert [e.rule for e in rep.exchanges("p")] == [f"cassette line {n}"
                                                       for n in (1, 2, 3, 4)]
        assert [e.final for e in rep.exchanges("p")] == [True, True, False, True]

    with Gateway("passthrough", upstream=up) as live:
        assert _contents(_converse(live, live.register_trial("l").key)) == direct
        assert live.usage("l").output_tokens == vendor_usage.output_tokens
    assert vendor.usage("vendor").requests == 12  # direct, record, passthrough; not replay
