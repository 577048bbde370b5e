"""The Gemini API (``models/{model}:generateContent`` and friends), the wire Gemini CLI speaks.

Everything the Gateway needs to know about this wire lives here: its routes (the model is
part of the path, so they are templates), how a request reads (``contents`` of ``user`` and
``model`` turns made of ``text``, ``functionCall`` and ``functionResponse`` parts; the
system prompt in ``systemInstruction``), the reply and the data-only SSE stream
(``?alt=sse``), Google's error body, ``usageMetadata``, and how the real key goes upstream
(``x-goog-api-key``; a ``key=`` query parameter is accepted from clients, and the Gateway
drops it from the path before anything keeps or forwards it).

Why a function call goes in the stream's last chunk, beside ``finishReason``: Gemini ends
a tool turn with ``STOP`` as it ends a text turn, so only the chunk carrying the finish
tells, by its parts, whether the turn ended; the Gateway reads each chunk on its own.

Why a tool-less request asking for JSON is an auxiliary (``title``) request: Gemini CLI's
side calls (the next-speaker check, the model router) ask for a JSON object without tools;
they never reach the policy's rules, and the JSON title they get is a valid "no opinion".

Seen from the real Gemini CLI 0.61.0 (API-key auth, ``GOOGLE_GEMINI_BASE_URL`` at the
Gateway, a pinned model, settings as ``controllers/profiles/gemini.py`` writes them): it
asks nothing at start-up (no model list, no ``countTokens``); each step of a turn is one
``POST /v1beta/models/<model>:streamGenerateContent?alt=sse`` with the key in
``x-goog-api-key``; no next-speaker check (``model.skipNextSpeakerCheck``, on by default), no
router (the model is not ``auto``), no loop-detection or tool-output-summary call. Function
calls it replays carry ``"thoughtSignature": "skip_thought_signature_validator"`` beside the
``functionCall`` when the reply gave none; nothing here needs to read or check it. A 401 ends
its turn at once; a 529 is retried with a growing backoff (about 5, 11, 16, 27 s apart).
"""

from __future__ import annotations

import json
from typing import Any

from ..view import REMINDER, Kind, RequestView, parse_skill_tags, parse_skills
from .base import Answer, Call, SseEvent, join_url

NAME = "gemini"
_METHODS = ("generateContent", "streamGenerateContent", "countTokens")
ROUTES = tuple(f"/{v}/models/{{model}}:{m}" for v in ("v1beta", "v1", "v1alpha")
               for m in _METHODS)
GET_ROUTES = ("/v1beta/models", "/v1alpha/models")  # /v1/models: the OpenAI list (openai_chat)
PROVIDER = "gemini"
UPSTREAM_BASE = "https://generativelanguage.googleapis.com"
URL_ENV = "HARNESS_UPSTREAM_GEMINI_URL"
KEY_ENV = "GEMINI_API_KEY"

#: function names that are the shell tool (Gemini CLI's first)
SHELL_NAMES = ("run_shell_command", "shell", "bash")


# ---------------------------------------------------------------- reading a request


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, dict):
        return [p for p in content.get("parts") or [] if isinstance(p, dict)]
    return []


def _texts(content: Any) -> list[str]:
    return [p["text"] for p in _parts(content) if isinstance(p.get("text"), str)
            and not p.get("thought")]


def _declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in body.get("tools") or []:
        if isinstance(t, dict):
            decls = t.get("functionDeclarations") or t.get("function_declarations") or []
            out.extend(d for d in decls if isinstance(d, dict) and d.get("name"))
    return out


def _response_text(part: dict[str, Any]) -> str:
    resp = (part.get("functionResponse") or {}).get("response")
    if isinstance(resp, dict):
        for k in ("output", "error", "content"):
            if isinstance(resp.get(k), str):
                return str(resp[k])
    return resp if isinstance(resp, str) else json.dumps(resp)


def model_of(route: str) -> str:
    """The model named in ``/v1beta/models/{model}:method``."""
    tail = route.rsplit("/models/", 1)[-1]
    return tail.rsplit(":", 1)[0]


def view(route: str, body: dict[str, Any]) -> RequestView:
    if route.endswith(":countTokens"):
        inner = body.get("generateContentRequest")
        body = inner if isinstance(inner, dict) else body
    return parse(body, model=model_of(route), stream=route.endswith(":streamGenerateContent"),
                 count_tokens=route.endswith(":countTokens"))


def _is_response(content: dict[str, Any]) -> bool:
    return any("functionResponse" in p for p in _parts(content))


def parse(body: dict[str, Any], *, model: str = "", stream: bool = False,
          count_tokens: bool = False) -> RequestView:
    """Parse a generateContent request. The human's text is the last ``user`` turn without
    ``functionResponse`` parts; ``step`` counts the function-response turns after it."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    sys_raw = body.get("systemInstruction") or body.get("system_instruction")
    system = "\n".join(_texts(sys_raw))
    all_texts = [system]
    human_idx, human = -1, 0
    for i, c in enumerate(contents):
        all_texts.extend(_texts(c))
        if c.get("role", "user") == "user" and not _is_response(c) and _texts(c):
            human, human_idx = human + 1, i
    user_text = ""
    if human_idx >= 0:
        parts = (REMINDER.sub("", t).strip() for t in _texts(contents[human_idx]))
        user_text = "\n".join(p for p in parts if p)
    step = sum(1 for c in contents[human_idx + 1:] if _is_response(c))
    results: tuple[str, ...] = ()
    if contents and _is_response(contents[-1]):
        results = tuple(_response_text(p) for p in _parts(contents[-1])
                        if "functionResponse" in p)
    decls = _declarations(body)
    all_text = "\n".join(all_texts)
    described = "\n".join([all_text, *(str(d.get("description") or "") for d in decls)])
    skills = dict(parse_skills(all_text))
    for name, desc in parse_skill_tags(described):
        skills.setdefault(name, desc)
    kind: Kind = "count_tokens" if count_tokens else "main"
    if not count_tokens and not decls and wants_json(body):
        kind = "title"
    gen = body.get("generationConfig") or {}
    return RequestView(
        api=NAME,
        kind=kind,
        model=model,
        stream=stream,
        user_text=user_text,
        system=system,
        all_text=all_text,
        tool_results=results,
        skills=tuple(skills.items()),
        tools=tuple(str(d["name"]) for d in decls),
        step=step,
        human_messages=human,
        extra={"max_tokens": gen.get("maxOutputTokens") if isinstance(gen, dict) else None},
    )


# ---------------------------------------------------------------- writing a reply


def shell_function(request: dict[str, Any]) -> dict[str, Any] | None:
    """The declared shell function (Gemini CLI's ``run_shell_command``), or None."""
    decls = _declarations(request)
    return next((d for d in decls if str(d["name"]).lower() in SHELL_NAMES), None)


def _schema(decl: dict[str, Any]) -> dict[str, Any]:
    s = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
    return s if isinstance(s, dict) else {}


def _shell_args(decl: dict[str, Any] | None, command: str, description: str) -> dict[str, Any]:
    props = _schema(decl or {}).get("properties") or {}
    args: dict[str, Any] = {"command": command}
    if "description" in props:
        args["description"] = description or command
    for k in _schema(decl or {}).get("required") or []:
        typ = str((props.get(k) or {}).get("type", "")).lower()
        if k not in args and typ == "boolean":
            args[k] = False
    return args


def _call_part(call: Call, shell: dict[str, Any] | None) -> dict[str, Any]:
    if call.shell is None:
        return {"functionCall": {"name": str(call.tool), "args": dict(call.input)}}
    name = str(shell["name"]) if shell else "run_shell_command"
    return {"functionCall": {"name": name,
                             "args": _shell_args(shell, call.shell, call.description)}}


def _usage(ans: Answer) -> dict[str, int]:
    out = ans.out_tokens()
    return {"promptTokenCount": ans.input_tokens, "candidatesTokenCount": out,
            "totalTokenCount": ans.input_tokens + out}


def _response(ans: Answer, parts: list[dict[str, Any]], finish: bool) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = "STOP"
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": ans.model,
                           "responseId": f"harness-{ans.ids}"}
    if finish:
        out["usageMetadata"] = _usage(ans)
    return out


def reply(ans: Answer) -> dict[str, Any]:
    """The non-streaming ``GenerateContentResponse``."""
    shell = shell_function(ans.request)
    parts = ([{"text": ans.text}] if ans.text is not None else []) + \
        [_call_part(c, shell) for c in ans.calls]
    return _response(ans, parts or [{"text": ""}], True)


def events(ans: Answer) -> list[SseEvent]:
    """The text, then a last chunk with the function calls, ``finishReason`` and usage."""
    shell = shell_function(ans.request)
    out: list[SseEvent] = []
    if ans.text:
        out.append(("", _response(ans, [{"text": ans.text}], False)))
    calls = [_call_part(c, shell) for c in ans.calls]
    out.append(("", _response(ans, calls or [{"text": ""}], True)))
    return out


_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
           504: "DEADLINE_EXCEEDED", 529: "UNAVAILABLE"}


def error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    return {"error": {"code": status, "message": message,
                      "status": etype or _STATUS.get(status, "INTERNAL")}}


def count_reply(tokens: int) -> dict[str, Any]:
    return {"totalTokens": tokens}


def wants_json(body: dict[str, Any]) -> bool:
    gen = body.get("generationConfig") or {}
    return isinstance(gen, dict) and (gen.get("responseMimeType") == "application/json"
                                      or "responseSchema" in gen
                                      or "responseJsonSchema" in gen)


def listing(route: str, models: tuple[str, ...]) -> dict[str, Any]:
    """``GET /v1beta/models``: the trial's models, as the Gemini API lists them."""
    return {"models": [{"name": f"models/{m}", "displayName": m,
                        "supportedGenerationMethods": list(_METHODS)} for m in models]}


# ---------------------------------------------------------------- reading a reply


def usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    u = payload.get("usageMetadata")
    if not isinstance(u, dict):
        return None
    return {"input_tokens": u.get("promptTokenCount") or 0,
            "output_tokens": u.get("candidatesTokenCount") or 0}


def is_final(payload: dict[str, Any]) -> bool:
    """A candidate finished (``STOP`` / ``MAX_TOKENS``) in a chunk calling no function."""
    for c in payload.get("candidates") or []:
        if isinstance(c, dict) and c.get("finishReason") in ("STOP", "MAX_TOKENS") and \
                not any("functionCall" in p for p in _parts(c.get("content"))):
            return True
    return False


# ---------------------------------------------------------------- upstream


def auth_headers(key: str) -> dict[str, str]:
    return {"x-goog-api-key": key}


def upstream_url(base: str, path: str) -> str:
    """The path on the upstream base (the Gateway has dropped a client's ``key=``)."""
    return join_url(base, path)
