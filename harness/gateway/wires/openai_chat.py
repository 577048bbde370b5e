"""OpenAI Chat Completions (``/v1/chat/completions``), the wire aider, Qwen Code and opencode's
openai-compatible provider speak.

Everything the Gateway needs to know about this wire lives here: its routes (and the model
list some clients GET), how a request reads (``messages`` with system / user / assistant /
tool roles; a tool round is the run of ``tool`` messages after an assistant's calls), the
reply object and the data-only SSE chunks ending in ``data: [DONE]``, its error body, where
usage sits, and how the real key goes upstream.

Why the shell tool is mapped onto the client's own declarations: unlike claude (``Bash``)
and codex (``exec_command``), each Chat Completions client names its shell tool differently
and some require extra arguments (Qwen Code's ``is_background``), so a policy's abstract
``shell`` call becomes a call of the shell-like function the request declared, with its
arguments filled from that function's JSON schema. A client that declares no tools at all
(aider edits through text) gets the command as a fenced ``bash`` block in the text, which
is how such a client is shown a command to run.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from harness.episode import CONTINUE_TEXT

from ..view import REMINDER, Kind, RequestView, blocks_text, parse_skill_tags, parse_skills
from .base import Answer, Call, SseEvent, join_url

NAME = "openai_chat"
ROUTES = ("/v1/chat/completions",)
GET_ROUTES = ("/v1/models",)
PROVIDER = "openai"
UPSTREAM_BASE = "https://api.openai.com"
URL_ENV = "HARNESS_UPSTREAM_OPENAI_URL"
KEY_ENV = "OPENAI_API_KEY"

#: a SKILL.md's front matter (``name:`` then ``description:``) as a client that declares no
#: tools shows it: aider adds a skill's files to the chat read-only (``--read``), whole
_FRONT_MATTER = re.compile(r"^---[ \t]*\nname:[ \t]*([^\n]+?)[ \t]*\ndescription:[ \t]*([^\n]+?)[ \t]*$",
                          re.MULTILINE)

#: function names that are the shell tool, lower-cased (opencode, Qwen Code, codex, others)
SHELL_NAMES = ("bash", "shell", "run_shell_command", "exec_command", "execute_command",
               "run_terminal_cmd", "run_command", "terminal")


# ---------------------------------------------------------------- reading a request


def _texts(content: Any) -> list[str]:
    return blocks_text(content, types=("text", "input_text")) if content is not None else []


def _tool_defs(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The declared functions (``{"type": "function", "function": {...}}``) as their inner
    ``function`` objects; a flat ``{"name": ...}`` is accepted too."""
    out: list[dict[str, Any]] = []
    for t in body.get("tools") or []:
        if isinstance(t, dict):
            inner = t.get("function")
            fn: dict[str, Any] = inner if isinstance(inner, dict) else t
            if fn.get("name"):
                out.append(fn)
    return out


def view(route: str, body: dict[str, Any]) -> RequestView:
    return parse(body)


def parse(body: dict[str, Any]) -> RequestView:
    """Parse a Chat Completions request. The human's text is the last ``user`` message;
    ``step`` counts the runs of ``tool`` messages after it (one run per tool round). A
    client without tools (aider) has no ``tool`` messages: its rounds are read from the
    user messages it and the harness add (see :func:`_text_rounds`)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    defs = _tool_defs(body)
    system_parts: list[str] = []
    all_texts: list[str] = []
    human_idx, human = -1, 0
    # without tools, what each user message is (the human's, or one aider or the harness added)
    kinds = {} if defs else {i: _text_kind(messages, i) for i, m in enumerate(messages)
                             if m.get("role") == "user"}
    for i, m in enumerate(messages):
        texts = _texts(m.get("content"))
        all_texts.extend(texts)
        role = m.get("role")
        if role in ("system", "developer"):
            system_parts.extend(texts)
        elif role == "user" and (defs or kinds[i] == "human"):
            human, human_idx = human + 1, i
    user_text = ""
    if human_idx >= 0:
        parts = (REMINDER.sub("", t).strip() for t in _texts(messages[human_idx].get("content")))
        user_text = "\n".join(p for p in parts if p)
    if defs:
        step, results = _tool_rounds(messages[human_idx + 1:])
    else:
        step, results = _text_rounds(messages, kinds, human_idx + 1)
    tools = tuple(str(fn["name"]) for fn in defs)
    system = "\n".join(p for p in system_parts if p)
    all_text = "\n".join(all_texts)
    described = "\n".join([all_text, *(str(fn.get("description") or "") for fn in defs)])
    skills = dict(parse_skills(all_text))
    for name, desc in parse_skill_tags(described):
        skills.setdefault(name, desc)
    if not tools:
        for fm in _FRONT_MATTER.finditer(all_text):
            skills.setdefault(fm.group(1).strip("'\""), fm.group(2).strip("'\""))
    kind: Kind = "main"
    if not tools and re.search(r"\btitle\b", system[:1000], re.IGNORECASE):
        kind = "title"  # opencode's title request: no tools, a title-generator system prompt
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return RequestView(
        api=NAME,
        kind=kind,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream", False)),
        user_text=user_text,
        system=system,
        all_text=all_text,
        tool_results=tuple(results),
        skills=tuple(skills.items()),
        tools=tools,
        step=step,
        human_messages=human,
        extra={"max_tokens": max_tokens, "include_usage": _include_usage(body)},
    )


def _tool_rounds(after: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """``step`` and the last round's outputs where tools are declared: each run of ``tool``
    messages after the human's is one round; the outputs are the trailing run's."""
    step, prev_tool = 0, False
    for m in after:
        is_tool = m.get("role") == "tool"
        step += is_tool and not prev_tool
        prev_tool = is_tool
    results: list[str] = []
    for m in reversed(after):
        if m.get("role") != "tool":
            break
        results.insert(0, "\n".join(_texts(m.get("content"))))
    return step, results


#: aider's share of a suggested command's output (``Output from <cmd>`` per command), and
#: of a ``/run`` (``I ran this command:``); each is a user message followed by its "Ok"
_SHARED = ("Output from ", "I ran this command:")
_OUTPUT_HEAD = re.compile(r"^Output from .*\n", re.MULTILINE)
_CSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # a terminal's colour / cursor sequence
#: the one-line acknowledgement aider writes as the assistant after each user message of
#: its own ("Ok.", "Ok, I will use these files as references.", ...)
_ACK = re.compile(r"Ok\b[^\n]{0,80}")


def _is_ack(message: dict[str, Any] | None) -> bool:
    """An assistant message that is only aider's own "Ok" to a message of its own."""
    return message is not None and message.get("role") == "assistant" and \
        _ACK.fullmatch("\n".join(_texts(message.get("content"))).strip()) is not None


def _text_kind(messages: list[dict[str, Any]], i: int) -> str:
    """What user message ``i`` of a client without tools is: ``continue`` (the harness going
    on with the turn, :data:`~harness.episode.CONTINUE_TEXT`), ``output`` (aider sharing
    what a command printed), ``context`` (another message of aider's own: the files in the
    chat, "I updated the files." after its edits; each answered by its own "Ok") or
    ``human``. Why the "Ok": aider moves the chat so far before the files' message once it
    applied an edit, so the last user message is not always the human's."""
    text = "\n".join(_texts(messages[i].get("content"))).lstrip()
    if text.startswith(CONTINUE_TEXT):
        return "continue"
    if text.startswith(_SHARED):
        return "output"
    if _is_ack(messages[i + 1] if i + 1 < len(messages) else None):
        return "context"
    return "human"


def _text_rounds(messages: list[dict[str, Any]], kinds: dict[int, str],
                 start: int) -> tuple[int, list[str]]:
    """``step`` and the last round's outputs for a client that runs the commands of a reply
    by itself and shares their output as user messages (aider): each continue message the
    harness typed closes one round. The outputs are what was shared since the reply before
    the last continue, one per command (``Output from`` headers dropped), or one empty
    output when the commands printed nothing (a tool ran: ``tool_result: ""`` holds).
    ``kinds`` are :func:`_text_kind`'s for the user messages; only those from ``start``
    (after the human's) count."""
    after = {i: k for i, k in kinds.items() if i >= start}
    step = sum(k == "continue" for k in after.values())
    last = max(after, default=-1)
    if last < 0 or after[last] != "continue":
        return step, []
    shared: list[str] = []
    for i in range(last - 1, start - 1, -1):
        m = messages[i]
        if _is_ack(m):
            continue
        if after.get(i) == "context":
            continue  # aider's files message, moved after the chat by an edit it applied
        if after.get(i) != "output":
            break
        # aider runs a command in a pseudo-terminal: its output's lines end in CR LF, and
        # colours come as escape sequences (pytest's "1 failed"), which rules should not see
        text = "\n".join(_texts(m.get("content"))).replace("\r\n", "\n")
        shared.insert(0, _CSI.sub("", text))
    results: list[str] = []
    for text in shared:
        parts = _OUTPUT_HEAD.split(text) if text.startswith("Output from ") else [text]
        results.extend(p.strip("\n") for p in parts if p.strip())
    return step, results or [""]


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


# ---------------------------------------------------------------- writing a reply


def shell_tool(request: dict[str, Any]) -> dict[str, Any] | None:
    """The function the client declared as its shell tool, or None: a known shell name
    first, else a function named like a shell that takes a ``command`` or ``cmd`` string."""
    defs = _tool_defs(request)
    for fn in defs:
        if str(fn["name"]).lower() in SHELL_NAMES:
            return fn
    for fn in defs:
        props = (fn.get("parameters") or {}).get("properties") or {}
        name = str(fn["name"]).lower()
        if any(w in name for w in ("shell", "bash", "command", "terminal")) and \
                ({"command", "cmd"} & set(props)):
            return fn
    return None


def shell_arguments(fn: dict[str, Any], command: str, description: str) -> dict[str, Any]:
    """Arguments for the declared shell function: the command under the property its schema
    names (``command``, else ``cmd``, else its first required string), a ``description`` if
    it takes one, and a neutral value for any other required flag or string."""
    schema = fn.get("parameters") or {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = [str(r) for r in schema.get("required") or []]
    strings = [k for k in required if (props.get(k) or {}).get("type") == "string"]
    key = next((k for k in ("command", "cmd") if k in props), strings[0] if strings else "command")
    args: dict[str, Any] = {key: command}
    if "description" in props and key != "description":
        args["description"] = description or command
    for k in required:
        typ = (props.get(k) or {}).get("type")
        if k not in args and typ == "boolean":
            args[k] = False
        elif k not in args and typ == "string":
            args[k] = ""
    return args


def _rendered(ans: Answer) -> tuple[str | None, list[dict[str, Any]]]:
    """The assistant's content and ``tool_calls``; shell calls to a client without a shell
    tool become fenced ``bash`` blocks in the content."""
    shell_fn = shell_tool(ans.request)
    text = ans.text
    calls: list[dict[str, Any]] = []
    for i, call in enumerate(ans.calls):
        name, args = _call(call, shell_fn)
        if name is None:
            block = f"```bash\n{one_line(str(call.shell))}\n```"
            text = f"{text}\n\n{block}" if text else block
            continue
        calls.append({"id": f"call_{ans.ids}_{i}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps(args)}})
    return text, calls


def one_line(command: str) -> str:
    """A command as one line that does the same in a POSIX shell: aider runs each line of a
    ``bash`` block as a command of its own (and tells models never to suggest a multi-line
    one), so a multi-line command (a heredoc script) is handed to ``eval``, its lines
    printed back verbatim, each single-quoted."""
    lines = command.strip("\n").split("\n")
    if len(lines) < 2:
        return command
    quoted = " ".join("'" + ln.replace("'", "'\\''") + "'" for ln in lines)
    return f"eval \"$(printf '%s\\n' {quoted})\""


def _call(call: Call, shell_fn: dict[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    if call.shell is None:
        return str(call.tool), dict(call.input)
    if shell_fn is None:
        return None, {}
    return str(shell_fn["name"]), shell_arguments(shell_fn, call.shell, call.description)


def _usage(ans: Answer) -> dict[str, int]:
    out = ans.out_tokens()
    return {"prompt_tokens": ans.input_tokens, "completion_tokens": out,
            "total_tokens": ans.input_tokens + out}


def _head(ans: Answer, obj: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{ans.ids}", "object": obj, "created": int(time.time()),
            "model": ans.model}


def reply(ans: Answer) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    text, calls = _rendered(ans)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "logprobs": None,
              "finish_reason": "tool_calls" if calls else "stop"}
    return dict(_head(ans, "chat.completion"), choices=[choice], usage=_usage(ans))


def events(ans: Answer) -> list[SseEvent]:
    """``chat.completion.chunk`` objects: the role, the content, each call by ``index`` (id,
    type and name first, then the arguments in two fragments), the finish reason, a usage
    chunk with no choices when ``stream_options.include_usage``, then ``[DONE]``."""
    text, calls = _rendered(ans)
    with_usage = _include_usage(ans.request)
    head = _head(ans, "chat.completion.chunk")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> SseEvent:
        c = dict(head, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}])
        return ("", dict(c, usage=None) if with_usage else c)

    out = [chunk({"role": "assistant", "content": ""})]
    if text:
        out.append(chunk({"content": text}))
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        half = len(args) // 2
        out.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                          "function": {"name": call["function"]["name"],
                                                       "arguments": ""}}]}))
        for part in (args[:half], args[half:]):
            if part:
                out.append(chunk({"tool_calls": [{"index": i,
                                                  "function": {"arguments": part}}]}))
    out.append(chunk({}, "tool_calls" if calls else "stop"))
    if with_usage:
        out.append(("", dict(head, choices=[], usage=_usage(ans))))
    out.append(("", "[DONE]"))
    return out


#: status -> (type, code) as OpenAI's error bodies carry them
_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None), 404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
    503: ("server_error", None), 529: ("server_error", "overloaded"),
}


def error(status: int, message: str, etype: str | None = None) -> dict[str, Any]:
    t, code = (etype, etype) if etype else _ERRORS.get(status, ("server_error", None))
    return {"error": {"message": message, "type": t, "param": None, "code": code}}


def count_reply(tokens: int) -> dict[str, Any]:
    """Chat Completions has no token-count route; kept for the Wire interface."""
    return {"input_tokens": tokens}


def wants_json(body: dict[str, Any]) -> bool:
    """Structured output is asked through ``response_format``."""
    fmt = body.get("response_format") or {}
    return isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object")


def listing(route: str, models: tuple[str, ...]) -> dict[str, Any]:
    """``GET /v1/models``: the models this trial was configured with or has asked for."""
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                        "owned_by": "harness"} for m in models]}


# ---------------------------------------------------------------- reading a reply


def usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    u = payload.get("usage")
    if not isinstance(u, dict):
        return None
    return {"input_tokens": u.get("prompt_tokens") or 0,
            "output_tokens": u.get("completion_tokens") or 0}


def is_final(payload: dict[str, Any]) -> bool:
    """A choice finished with ``stop`` (or was cut at ``length``) and called no tool."""
    for c in payload.get("choices") or []:
        if isinstance(c, dict) and c.get("finish_reason") in ("stop", "length") and \
                not (c.get("message") or {}).get("tool_calls"):
            return True
    return False


# ---------------------------------------------------------------- upstream


def auth_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upstream_url(base: str, path: str) -> str:
    """``OPENAI_BASE_URL``-style bases end in ``/v1``; the incoming path has it too."""
    return join_url(base, path, drop_v1=True)
