"""Anthropic Messages (``/v1/messages``), the wire claude speaks.

Everything the Gateway needs to know about this wire lives here: its routes, how a request
reads (system prompt, human text, tool results, title requests), the reply and SSE shapes
claude was seen to accept, its error body, where usage sits in a reply, and how the real
key goes upstream. See PROTOCOLS.md for the recorded shapes.
"""

from __future__ import annotations

import json
from typing import Any

from ..view import REMINDER, Kind, RequestView, blocks_text, view_of
from .base import Answer, Call, SseEvent, join_url

NAME = "anthropic"
ROUTES = ("/v1/messages", "/v1/messages/count_tokens")
PROVIDER = "anthropic"
UPSTREAM_BASE = "https://api.anthropic.com"
URL_ENV = "HARNESS_UPSTREAM_ANTHROPIC_URL"
KEY_ENV = "ANTHROPIC_API_KEY"


# ---------------------------------------------------------------- reading a request


def _tool_result_text(block: dict[str, Any]) -> str:
    c = block.get("content", "")
    return "\n".join(blocks_text(c)) if not isinstance(c, str) else c


def view(route: str, body: dict[str, Any]) -> RequestView:
    return parse(body, count_tokens=route.endswith("/count_tokens"))


def parse(body: dict[str, Any], *, count_tokens: bool = False) -> RequestView:
    """Parse a Messages request. Title requests carry no tools and a ``<session>`` wrapper."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = "\n".join(blocks_text(body.get("system", "")))
    tools = tuple(str(t.get("name", "")) for t in body.get("tools") or [] if isinstance(t, dict))
    all_texts: list[str] = [system]
    human_idx = -1
    human = 0
    for i, m in enumerate(messages):
        content = m.get("content", "")
        all_texts.extend(blocks_text(content))
        if m.get("role") != "user":
            continue
        has_result = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        if not has_result:
            human += 1
            human_idx = i
    user_text = ""
    if human_idx >= 0:
        parts = blocks_text(messages[human_idx].get("content", ""))
        stripped = [p for p in (REMINDER.sub("", t).strip() for t in parts) if p]
        user_text = "\n".join(stripped)
    step = sum(1 for m in messages[human_idx + 1 :] if m.get("role") == "user")
    results: list[str] = []
    if messages and messages[-1].get("role") == "user":
        content = messages[-1].get("content")
        if isinstance(content, list):
            results = [
                _tool_result_text(b)
                for b in content
                if isinstance(b, dict) and b.get("type") == "tool_result"
            ]
    all_text = "\n".join(all_texts)
    kind: Kind = "count_tokens" if count_tokens else "main"
    if not count_tokens and not tools and "<session>" in user_text:
        kind = "title"
    return view_of(NAME, kind, body, user_text=user_text, system=system, all_text=all_text,
                   results=results, tools=tools, step=step, human=human)


# ---------------------------------------------------------------- writing a reply


def _input(call: Call) -> tuple[str, dict[str, Any]]:
    if call.shell is not None:
        return "Bash", {"command": call.shell, "description": call.description or call.shell}
    return str(call.tool), dict(call.input)


def reply(ans: Answer) -> dict[str, Any]:
    """The non-streaming Messages response."""
    content: list[dict[str, Any]] = []
    if ans.text is not None:
        content.append({"type": "text", "text": ans.text})
    for i, call in enumerate(ans.calls):
        name, inp = _input(call)
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


def events(ans: Answer) -> list[SseEvent]:
    """message_start, one start/delta/stop triple per block, message_delta, message_stop."""
    msg = reply(ans)
    start = dict(msg, content=[], stop_reason=None,
                 usage={"input_tokens": ans.input_tokens, "output_tokens": 1})
    out: list[SseEvent] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(msg["content"]):
        first: dict[str, Any]
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        out += [
            ("content_block_start",
             {"type": "content_block_start", "index": i, "content_block": first}),
            ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": i}),
        ]
    out += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                           "usage": {"output_tokens": ans.out_tokens()}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return out


_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 529: "overloaded_error",
}


def error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    t = etype or _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": t, "message": message}}


def count_reply(tokens: int) -> dict[str, Any]:
    return {"input_tokens": tokens}


def wants_json(body: dict[str, Any]) -> bool:
    """claude asks for its title through ``output_config.format`` (a JSON schema)."""
    fmt = (body.get("output_config") or {}).get("format") or {}
    return fmt.get("type") == "json_schema"


# ---------------------------------------------------------------- reading a reply


def usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    u = payload.get("usage") or (payload.get("message") or {}).get("usage")
    return u if isinstance(u, dict) else None


def is_final(payload: dict[str, Any]) -> bool:
    reason = (payload.get("delta") or {}).get("stop_reason") or payload.get("stop_reason")
    return reason == "end_turn"


# ---------------------------------------------------------------- upstream


def auth_headers(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def upstream_url(base: str, path: str) -> str:
    return join_url(base, path)
