"""The Gateway speaking Anthropic Messages, exercised with the real anthropic SDK."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import anthropic
import pytest
from gw_helpers import eventually, post, sse

from harness.errors import ConfigError, GatewayError, ValidationFailed
from harness.gateway import Gateway, GatewayEvent

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


def client(gw: Gateway, key: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=retries, timeout=10)


def ask(c: anthropic.Anthropic, text: str) -> anthropic.types.Message:
    return c.messages.create(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                             messages=[{"role": "user", "content": text}])


def test_text_reply_non_streaming_and_streaming(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    c = client(gw, gw.register_trial("t1").key)
    msg = ask(c, "hello")
    assert msg.content[0].type == "text" and msg.content[0].text.startswith("Hello from")
    assert msg.stop_reason == "end_turn"
    with c.messages.stream(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "hello again"}]) as s:
        final = s.get_final_message()
    assert final.content[0].text == "Hello from the harness gateway."  # type: ignore[union-attr]


def test_shell_call_becomes_bash_tool_use_then_result_ends_turn(
        scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    c = client(gw, gw.register_trial("t1").key)
    first = ask(c, "please make a file")
    assert first.stop_reason == "tool_use"
    tool = first.content[1]
    assert tool.type == "tool_use" and tool.name == "Bash"
    assert tool.input == {"command": "echo hi > hello.txt", "description": "write hello.txt"}
    second = c.messages.create(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                               messages=[
        {"role": "user", "content": "please make a file"},
        {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id,
                                      "content": "(no output)"}]}])
    assert second.content[0].text == "Done, file written."  # type: ignore[union-attr]
    ex = gw.exchanges("t1")
    assert [(e.turn, e.step, e.rule) for e in ex] == [(1, 0, "shell"), (1, 1, "after-tool")]
    def finals() -> list[GatewayEvent]:
        return [e for e in gw.events if e.kind == "final_answer"]
    assert eventually(lambda: len(finals()) == 1)
    assert finals()[0].wall >= ex[-1].started and finals()[0].turn == 1


def test_title_and_count_tokens_do_not_advance_rules(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t1").key
    title = {"model": "m", "tools": [], "max_tokens": 50, "stream": True,
             "system": [{"type": "text", "text": 'Return JSON with a single "title" field.'}],
             "messages": [{"role": "user", "content": "<session>\nhello\n</session>"}]}
    status, _, raw = post(gw.url, "/v1/messages?beta=true", title, key)
    assert status == 200
    deltas = [d["delta"]["text"] for n, d in sse(raw) if n == "content_block_delta"]
    assert deltas == ['{"title": "Scripted session"}']
    status, _, raw = post(gw.url, "/v1/messages/count_tokens?beta=true",
                          {"model": "m", "messages": [{"role": "user", "content": "x"}]}, key)
    assert status == 200 and b"input_tokens" in raw
    assert ask(client(gw, key), "hello").content[0].text.startswith("Hello")  # type: ignore
    assert [(e.kind, e.turn) for e in gw.exchanges("t1")] == \
        [("title", 1), ("count_tokens", 1), ("main", 1)]


def test_trials_are_isolated(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {match: {turn: 1}, reply: {text: one}}\n"
                  "  - {match: {turn: 2}, reply: {text: two}}\n")
    a = client(gw, gw.register_trial("a").key)
    b = client(gw, gw.register_trial("b").key)
    assert ask(a, "x").content[0].text == "one"  # type: ignore[union-attr]
    assert ask(a, "y").content[0].text == "two"  # type: ignore[union-attr]
    assert ask(b, "x").content[0].text == "one"  # type: ignore[union-attr]
    assert gw.usage("a").requests == 2 and gw.usage("b").requests == 1
    assert gw.usage("a").total_tokens > gw.usage("b").total_tokens > 0


def test_injected_529_first_time_is_retried_by_the_sdk(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - match: {user: go}\n    fault: {status: 529, first: 1, "
                  "retry_after_sec: 0}\n    reply: {text: recovered}\n")
    c = client(gw, gw.register_trial("t").key, retries=2)
    assert ask(c, "go").content[0].text == "recovered"  # type: ignore[union-attr]
    assert [e.status for e in gw.exchanges("t")] == [529, 200]


@pytest.mark.parametrize("status,exc", [(429, anthropic.RateLimitError),
                                        (500, anthropic.InternalServerError),
                                        (529, anthropic.APIStatusError)])
def test_fault_statuses_reach_the_client(scripted: Callable[..., Gateway], status: int,
                                          exc: type[Exception]) -> None:
    gw = scripted(f"rules:\n  - {{reply: {{text: x}}, fault: {{status: {status}}}}}\n")
    with pytest.raises(exc) as ei:
        ask(client(gw, gw.register_trial("t").key), "go")
    assert getattr(ei.value, "status_code", None) == status


def test_reply_error_and_latency(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {match: {user: slow}, fault: {latency_sec: 0.4}, "
                  "reply: {text: late}}\n"
                  "  - {reply: {error: {status: 400, message: scripted refusal}}}\n")
    c = client(gw, gw.register_trial("t").key)
    t0 = time.monotonic()
    assert ask(c, "slow").content[0].text == "late"  # type: ignore[union-attr]
    assert time.monotonic() - t0 >= 0.4
    with pytest.raises(anthropic.BadRequestError, match="scripted refusal"):
        ask(c, "other")


def test_stream_cut_mid_event_breaks_the_stream(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {reply: {text: never whole}, fault: {cut_after_events: 2}}\n")
    c = client(gw, gw.register_trial("t").key)
    # The SDK surfaces a broken chunked stream as its HTTP library's protocol error.
    with pytest.raises(Exception, match="incomplete|peer closed|Connection") as ei, \
            c.messages.stream(model="m", max_tokens=64,
                              messages=[{"role": "user", "content": "go"}]) as s:
        s.get_final_message()
    assert not isinstance(ei.value, AssertionError)
    assert "stream cut" in gw.exchanges("t")[0].note
    assert not [e for e in gw.events if e.kind == "final_answer"]


def test_unmatched_request_is_an_immediate_clear_error(
        scripted: Callable[..., Gateway], caplog: pytest.LogCaptureFixture) -> None:
    gw = scripted("rules:\n  - {match: {user: only-this}, reply: {text: x}}\n")
    with caplog.at_level(logging.WARNING, logger="harness.gateway"), \
            pytest.raises(anthropic.BadRequestError, match="no rule matches turn 1"):
        ask(client(gw, gw.register_trial("t").key), "something else")
    assert "no rule matches" in caplog.text


def test_unknown_key_is_refused(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    with pytest.raises(anthropic.AuthenticationError, match="unknown API key"):
        ask(client(gw, "sk-not-registered"), "hello")


def test_budget_stops_new_requests_with_a_clear_status(scripted: Callable[..., Gateway]) -> None:
    gw = scripted(budget_tokens=1)
    c = client(gw, gw.register_trial("t").key)
    ask(c, "hello")
    assert gw.budget_exceeded
    with pytest.raises(anthropic.APIStatusError, match="budget") as ei:
        ask(c, "hello")
    assert ei.value.status_code == 402


def test_headers_are_redacted_in_exchanges(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    key = gw.register_trial("t").key
    ask(client(gw, key), "hello")
    headers = gw.exchanges("t")[0].headers
    assert key not in repr(headers) and "<redacted>" in headers.values()


def test_bind_failure_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        gw = Gateway("scripted", policy=None or _policy(), port=port)
        with pytest.raises(GatewayError, match=f"cannot listen on 127.0.0.1:{port}") as ei:
            gw.start()
        assert "\n" not in ei.value.one_line()


def test_modes_need_their_inputs() -> None:
    with pytest.raises(ConfigError, match="needs a cassette"):
        Gateway("replay")
    with pytest.raises(ConfigError, match="unknown"):
        Gateway("bogus")  # type: ignore[arg-type]


def test_per_trial_policies(tmp_path: Path) -> None:
    gw = Gateway("scripted").start()  # no run-wide policy: each trial brings its own
    try:
        f = tmp_path / "a.yaml"
        f.write_text("title: A\nrules:\n  - {reply: {text: from file}}\n")
        a = client(gw, gw.register_trial("run/a", policy=f).key)
        b = client(gw, gw.register_trial("run/b", policy={"rules": [
            {"reply": {"text": "from mapping"}}]}).key)
        assert ask(a, "x").content[0].text == "from file"  # type: ignore[union-attr]
        assert ask(b, "x").content[0].text == "from mapping"  # type: ignore[union-attr]
        with pytest.raises(ValidationFailed) as ei:
            gw.register_trial("run/c", policy={"rules": [{"reply": {}}]})
        assert str(ei.value.errors[0]).startswith("policy of trial run/c: rules.0.reply")
        with pytest.raises(anthropic.BadRequestError, match="no rule matches"):
            ask(client(gw, gw.register_trial("run/d").key), "x")
    finally:
        gw.close()


def test_close_is_idempotent_and_refuses_reuse(scripted: Callable[..., Gateway]) -> None:
    gw = scripted()
    gw.close()
    gw.close()
    with pytest.raises(GatewayError, match="closed"):
        gw.start()


def _policy():  # type: ignore[no-untyped-def]
    from harness.gateway import parse_policy
    return parse_policy("rules: []")
