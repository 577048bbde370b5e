"""Record through a stand-in upstream (a scripted Gateway), then replay the cassette."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import anthropic
import pytest
from gw_helpers import codex_request, post, sse

from harness.errors import ValidationFailed
from harness.gateway import Gateway, Upstream
from harness.gateway.cassette import load_cassette

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


def conversation(c: anthropic.Anthropic) -> list[object]:
    """A text turn, then a tool turn with its follow-up; returns the content seen."""
    seen: list[object] = []
    first = c.messages.create(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                              messages=[{"role": "user", "content": "hello"}])
    seen.append(first.model_dump()["content"])
    with c.messages.stream(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "please make a file"}]) as s:
        tool = s.get_final_message()
    seen.append(tool.model_dump()["content"])
    done = c.messages.create(model="m", max_tokens=64, tools=TOOLS,  # type: ignore[arg-type]
                             messages=[
        {"role": "user", "content": "please make a file"},
        {"role": "assistant", "content": tool.content},  # type: ignore[typeddict-item]
        {"role": "user", "content": [{"type": "tool_result",
                                      "tool_use_id": tool.content[1].id,  # type: ignore
                                      "content": "ok"}]}])
    seen.append(done.model_dump()["content"])
    return seen


def test_record_then_replay_gives_the_same_answers(
        scripted: Callable[..., Gateway], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    real = scripted()  # stands in for the vendor API; its trial key plays the real key
    real_key = real.register_trial("vendor").key
    cassette = tmp_path / "run.jsonl"
    up = Upstream(anthropic_url=real.url, openai_url=real.url, anthropic_key=real_key,
                  openai_key=real_key, timeout_sec=10)
    assert real_key not in repr(up)
    caplog.set_level(logging.DEBUG, logger="harness.gateway")
    with Gateway("record", cassette=cassette, upstream=up) as rec:
        key = rec.register_trial("t1").key
        recorded = conversation(anthropic.Anthropic(base_url=rec.url, api_key=key,
                                                    max_retries=0, timeout=10))
        _, _, oa = post(rec.url, "/v1/responses", codex_request("hello"), key, bearer=True)
        assert rec.usage("t1").requests == 4 and rec.usage("t1").output_tokens > 0
        assert [e.final for e in rec.exchanges("t1")] == [True, False, True, True]
    text = cassette.read_text()
    assert len(text.splitlines()) == 4
    assert real_key not in text and key not in text and real_key not in caplog.text
    assert [e.api for e in load_cassette(cassette)] == ["anthropic"] * 3 + ["openai"]

    with Gateway("replay", cassette=cassette) as rep:
        key2 = rep.register_trial("t2").key
        c = anthropic.Anthropic(base_url=rep.url, api_key=key2, max_retries=0, timeout=10)
        assert conversation(c) == recorded
        _, _, oa2 = post(rep.url, "/v1/responses", codex_request("hello"), key2, bearer=True)
        assert sse(oa2)[-1][1]["response"]["output"] == sse(oa)[-1][1]["response"]["output"]
        assert [e.rule for e in rep.exchanges("t2")] == [f"cassette line {n}"
                                                       for n in (1, 2, 3, 4)]


def test_replay_miss_is_immediate_clear_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text("")
    with Gateway("replay", cassette=cassette) as rep:
        c = anthropic.Anthropic(base_url=rep.url, api_key=rep.register_trial("t").key,
                                max_retries=0, timeout=10)
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="harness.gateway"), \
                pytest.raises(anthropic.BadRequestError, match="no cassette entry matches"):
            c.messages.create(model="m", max_tokens=5,
                              messages=[{"role": "user", "content": "unknown"}])
        assert time.monotonic() - t0 < 2
    assert "no cassette entry matches" in caplog.text


def test_bad_cassette_lines_are_located(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    good = {"api": "anthropic", "path": "/v1/messages", "request": {}, "status": 200,
            "body": "{}"}
    p.write_text("\n".join([json.dumps(good), "{not json", json.dumps(dict(good, api="x")),
                            json.dumps({k: v for k, v in good.items() if k != "body"})]))
    with pytest.raises(ValidationFailed) as ei:
        Gateway("replay", cassette=p)
    where = [e.where for e in ei.value.errors]
    assert where == [f"{p}:2", f"{p}:3", f"{p}:4"]
    assert "body" in ei.value.errors[2].message


def test_upstream_unreachable_is_a_502(tmp_path: Path) -> None:
    up = Upstream(anthropic_url="http://127.0.0.1:9", anthropic_key="sk-real", timeout_sec=2)
    with Gateway("passthrough", upstream=up) as gw:
        c = anthropic.Anthropic(base_url=gw.url, api_key=gw.register_trial("t").key,
                                max_retries=0, timeout=10)
        with pytest.raises(anthropic.APIStatusError, match="unreachable") as ei:
            c.messages.create(model="m", max_tokens=5,
                              messages=[{"role": "user", "content": "x"}])
        assert ei.value.status_code == 502 and "sk-real" not in str(ei.value)
