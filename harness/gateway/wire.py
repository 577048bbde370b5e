"""Rendering an abstract answer into each API's wire format (SSE events or one JSON body).

Why one module for both APIs: the two renderers share the answer model and the token
estimate, and keeping them side by side makes the per-API differences (Bash vs
exec_command, tool_use vs function_call) easy to review against PROTOCOLS.md.
The shapes here are the ones the real CLIs were seen to accept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .policy import Call

SseEvent = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Answer:
    """A model turn: optional text then zero or more tool calls. ``ids`` seeds call ids."""

    text: str | None = None
    calls: tuple[Call, ...] = ()
    ids: str = "0"
    model: str = "harness-scripted"
    input_tokens: int = 1
    output_tokens: int = field(default=0)

    def out_tokens(self) -> int:
        if self.output_tokens:
            return self.output_tokens
        size = len(self.text or "") + sum(len(json.dumps(c.input)) + len(c.shell or "")
                                          for c in self.calls)
        return max(1, size // 4)


def estimate_tokens(raw: bytes | str) -> int:
    """A crude, deterministic size measure (4 bytes a token) for scripted replies."""
    return max(1, len(raw) // 4)


def sse_bytes(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# ---------------------------------------------------------------- Anthropic Messages


def anthropic_input(call: Call) -> tuple[str, dict[str, Any]]:
    if call.shell is not None:
        return "Bash", {"command": call.shell, "description": call.description or call.shell}
    return str(call.tool), dict(call.input)


def anthropic_message(ans: Answer) -> dict[str, Any]:
    """The non-streaming Messages response."""
    content: list[dict[str, Any]] = []
    if ans.text is not None:
        content.append({"type": "text", "text": ans.text})
    for i, call in enumerate(ans.calls):
        name, inp = anthropic_input(call)
        content.append({"type": "tool_use", "id": f"toolu_{ans.ids}_{i}", "name": name,
                        "input": inp})
    return {
        "id": f"msg_{ans.ids}",
        "type": "message",
        "role": "assistant",
        "model": ans.model,
        "content": content,
        "stop_reason": "tool_use" if ans.calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": ans.input_tokens, "output_tokens": ans.out_tokens()},
    }


def anthropic_events(ans: Answer) -> list[SseEvent]:
    """message_start, one start/delta/stop triple per block, message_delta, message_stop."""
    msg = anthropic_message(ans)
    start = dict(msg, content=[], stop_reason=None,
                 usage={"input_tokens": ans.input_tokens, "output_tokens": 1})
    events: list[SseEvent] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(msg["content"]):
        first: dict[str, Any]
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start",
             {"type": "content_block_start", "index": i, "content_block": first}),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    events += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                           "usage": {"output_tokens": ans.out_tokens()}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 529: "overloaded_error",
}


def anthropic_error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    t = etype or _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": t, "message": message}}


# ---------------------------------------------------------------- OpenAI Responses


def openai_arguments(call: Call) -> tuple[str, str]:
    if call.shell is not None:
        return "exec_command", json.dumps({"cmd": call.shell})
    return str(call.tool), json.dumps(call.input)


def openai_output(ans: Answer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if ans.text is not None:
        out.append({
            "type": "message", "id": f"msg_{ans.ids}", "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": ans.text, "annotations": []}],
        })
    for i, call in enumerate(ans.calls):
        name, args = openai_arguments(call)
        out.append({"type": "function_call", "id": f"fc_{ans.ids}_{i}", "status": "completed",
                    "call_id": f"call_{ans.ids}_{i}", "name": name, "arguments": args})
    return out


def openai_response(ans: Answer, *, status: str = "completed") -> dict[str, Any]:
    """The Responses object, as carried by ``response.completed`` or a non-stream reply."""
    out_tok = ans.out_tokens()
    return {
        "id": f"resp_{ans.ids}", "object": "response", "status": status, "model": ans.model,
        "output": openai_output(ans) if status == "completed" else [],
        "usage": {
            "input_tokens": ans.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out_tok,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": ans.input_tokens + out_tok,
        } if status == "completed" else None,
    }


def openai_events(ans: Answer) -> list[SseEvent]:
    """created → per item added/delta/done → completed, with sequence numbers."""
    raw: list[dict[str, Any]] = [
        {"type": "response.created", "response": openai_response(ans, status="in_progress")},
    ]
    for idx, item in enumerate(openai_output(ans)):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            raw += [
                {"type": "response.output_item.added", "output_index": idx,
                 "item": dict(item, status="in_progress", content=[])},
                {"type": "response.output_text.delta", "output_index": idx, "content_index": 0,
                 "item_id": item["id"], "delta": text},
                {"type": "response.output_text.done", "output_index": idx, "content_index": 0,
                 "item_id": item["id"], "text": text},
            ]
        else:
            raw += [
                {"type": "response.output_item.added", "output_index": idx,
                 "item": dict(item, status="in_progress", arguments="")},
                {"type": "response.function_call_arguments.delta", "output_index": idx,
                 "item_id": item["id"], "delta": item["arguments"]},
                {"type": "response.function_call_arguments.done", "output_index": idx,
                 "item_id": item["id"], "arguments": item["arguments"]},
            ]
        raw.append({"type": "response.output_item.done", "output_index": idx, "item": item})
    raw.append({"type": "response.completed", "response": openai_response(ans)})
    return [(e["type"], dict(e, sequence_number=n)) for n, e in enumerate(raw)]


_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_api_key", 403: "insufficient_quota",
    429: "rate_limit_exceeded", 500: "server_error", 529: "server_is_overloaded",
}


def openai_error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    t = etype or _OPENAI_ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": t, "param": None, "code": t}}
