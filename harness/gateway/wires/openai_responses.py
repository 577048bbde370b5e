"""OpenAI Responses (``/v1/responses``), the wire codex speaks.

Everything the Gateway needs to know about this wire lives here: its route, how a request
reads (codex sends its own context as user-role messages, which are not the human's text),
the reply and SSE shapes codex was seen to accept, its error body, where usage sits, and how
the real key goes upstream. See PROTOCOLS.md for the recorded shapes.
"""

from __future__ import annotations

import json
from typing import Any

from ..view import Kind, RequestView, blocks_text, view_of
from .base import Answer, Call, SseEvent, join_url

NAME = "openai"
ROUTES = ("/v1/responses",)
PROVIDER = "openai"
UPSTREAM_BASE = "https://api.openai.com"
URL_ENV = "HARNESS_UPSTREAM_OPENAI_URL"
KEY_ENV = "OPENAI_API_KEY"

# Codex sends its own context as user-role messages; none of them is what a person typed.
_CODEX_CONTEXT_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<permissions instructions>",
    "<skills_instructions>",
    "<user_shell_command>",
    "<turn_aborted>",
)


# ---------------------------------------------------------------- reading a request


def _is_codex_context(text: str) -> bool:
    return text.lstrip().startswith(_CODEX_CONTEXT_PREFIXES)


def view(route: str, body: dict[str, Any]) -> RequestView:
    return parse(body)


def parse(body: dict[str, Any]) -> RequestView:
    """Parse a Responses request; codex's own context messages are not the human's text."""
    raw = body.get("input", "")
    items: list[dict[str, Any]] = (
        [{"type": "message", "role": "user", "content": raw}]
        if isinstance(raw, str)
        else [i for i in raw if isinstance(i, dict)]
    )
    system_parts = [str(body.get("instructions") or "")]
    all_texts: list[str] = []
    human_idx = -1
    human = 0
    for i, item in enumerate(items):
        itype = item.get("type", "message")
        if itype != "message":
            continue
        texts = blocks_text(item.get("content", ""), types=("input_text", "output_text", "text"))
        all_texts.extend(texts)
        role = item.get("role")
        if role in ("developer", "system"):
            system_parts.extend(texts)
        elif role == "user" and texts and not all(_is_codex_context(t) for t in texts):
            human += 1
            human_idx = i
    user_text = ""
    if human_idx >= 0:
        texts = blocks_text(
            items[human_idx].get("content", ""), types=("input_text", "text")
        )
        user_text = "\n".join(t for t in texts if not _is_codex_context(t))
    step = sum(
        1 for it in items[human_idx + 1 :] if it.get("type") == "function_call_output"
    )
    results: list[str] = []
    for it in reversed(items):
        if it.get("type") != "function_call_output":
            break
        out = it.get("output", "")
        results.insert(0, out if isinstance(out, str) else "\n".join(blocks_text(out)))
    tools = tuple(
        str(t.get("name") or t.get("type") or "") for t in body.get("tools") or []
        if isinstance(t, dict)
    )
    system = "\n".join(p for p in system_parts if p)
    all_text = "\n".join([system, *all_texts])
    kind: Kind = "main"
    if not tools and _looks_like_codex_title(system, user_text):
        kind = "title"
    return view_of(NAME, kind, body, user_text=user_text, system=system, all_text=all_text,
                   results=results, tools=tools, step=step, human=human)


def _looks_like_codex_title(system: str, user_text: str) -> bool:
    """Codex's title request has no tools and asks for a title in its instructions."""
    low = (system + "\n" + user_text[:400]).lower()
    return "title" in low


# ---------------------------------------------------------------- writing a reply


def _arguments(call: Call) -> tuple[str, str]:
    if call.shell is not None:
        return "exec_command", json.dumps({"cmd": call.shell})
    return str(call.tool), json.dumps(call.input)


def _output(ans: Answer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if ans.text is not None:
        out.append({
            "type": "message", "id": f"msg_{ans.ids}", "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": ans.text, "annotations": []}],
        })
    for i, call in enumerate(ans.calls):
        name, args = _arguments(call)
        out.append({"type": "function_call", "id": f"fc_{ans.ids}_{i}", "status": "completed",
                    "call_id": f"call_{ans.ids}_{i}", "name": name, "arguments": args})
    return out


def reply(ans: Answer, *, status: str = "completed") -> dict[str, Any]:
    """The Responses object, as carried by ``response.completed`` or a non-stream reply."""
    out_tok = ans.out_tokens()
    return {
        "id": f"resp_{ans.ids}", "object": "response", "status": status, "model": ans.model,
        "output": _output(ans) if status == "completed" else [],
        "usage": {
            "input_tokens": ans.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out_tok,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": ans.input_tokens + out_tok,
        } if status == "completed" else None,
    }


def events(ans: Answer) -> list[SseEvent]:
    """created → per item added/delta/done → completed, with sequence numbers."""
    raw: list[dict[str, Any]] = [
        {"type": "response.created", "response": reply(ans, status="in_progress")},
    ]
    for idx, item in enumerate(_output(ans)):
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
    raw.append({"type": "response.completed", "response": reply(ans)})
    return [(e["type"], dict(e, sequence_number=n)) for n, e in enumerate(raw)]


_ERROR_TYPES = {
    400: "invalid_request_error", 401: "invalid_api_key", 403: "insufficient_quota",
    429: "rate_limit_exceeded", 500: "server_error", 529: "server_is_overloaded",
}


def error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    t = etype or _ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": t, "param": None, "code": t}}


def count_reply(tokens: int) -> dict[str, Any]:
    return {"input_tokens": tokens}


def wants_json(body: dict[str, Any]) -> bool:
    """codex asks for its title through ``text.format`` (a JSON schema)."""
    fmt = (body.get("text") or {}).get("format") or {}
    return fmt.get("type") == "json_schema"


# ---------------------------------------------------------------- reading a reply


def usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    u = (payload.get("response") or {}).get("usage") or payload.get("usage")
    return u if isinstance(u, dict) else None


def is_final(payload: dict[str, Any]) -> bool:
    p = payload
    resp = p.get("response") if p.get("type") == "response.completed" else (
        p if p.get("object") == "response" else None)
    if not isinstance(resp, dict) or resp.get("status") != "completed":
        return False
    return not any(isinstance(o, dict) and o.get("type") == "function_call"
                   for o in resp.get("output") or [])


# ---------------------------------------------------------------- upstream


def auth_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upstream_url(base: str, path: str) -> str:
    """OpenAI-style base URLs usually end in ``/v1``; the incoming path has it too."""
    return join_url(base, path, drop_v1=True)
