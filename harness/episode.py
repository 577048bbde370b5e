"""One ``Episode`` model for what an agent did, parsed from each CLI's own session file.

Why parse the CLIs' files (not the screen): they hold the exact tool inputs and outputs,
token usage and API errors; the screen is for people and for done-detection. Formats seen:

- claude ``~/.claude/projects/<slug>/<session>.jsonl``: one line per *content block*
  (``type: assistant`` with ``message.id``; usage repeated on each block, so it is counted
  once per message id), user lines whose content is a string (a prompt) or a list of
  ``tool_result`` blocks, ``isApiErrorMessage`` lines for API failures.
- codex ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl``: ``response_item`` payloads
  (message / function_call / function_call_output, joined by ``call_id``),
  ``token_usage_record`` per response, ``event_msg`` ``task_complete`` with the final answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: The message the harness types to let a CLI that stops after every reply whose commands
#: ran (aider: a command's output waits for the user's next message) go on with the same
#: turn. It is not the human's: the CLI's parser folds it into the turn it continues, and
#: the Gateway counts it as the end of a tool round, so ``user``, ``step`` and
#: ``tool_result`` rules read as they do for the CLIs that loop by themselves. Why one
#: place: the profile types it, its parser and the Gateway's wire recognise it.
CONTINUE_TEXT = "Continue: the shell commands you suggested have run; anything they printed is above."


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    is_error: bool = False


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    user_text: str
    texts: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    final_text: str = ""


class TokenUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str
    session_id: str = ""
    model: str = ""
    turns: list[Turn] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    api_errors: list[str] = Field(default_factory=list)

    @property
    def final_answer(self) -> str:
        return self.turns[-1].final_text if self.turns else ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [c for t in self.turns for c in t.tool_calls]


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            d = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write: keep what is whole
        if isinstance(d, dict):
            out.append(d)
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict):
                if b.get("type") in ("text", "input_text", "output_text"):
                    parts.append(str(b.get("text", "")))
                elif b.get("type") == "tool_result":
                    parts.append(_text_of(b.get("content")))
            elif isinstance(b, str):
                parts.append(b)
        return "\n".join(p for p in parts if p)
    return ""


def parse_claude(path: Path) -> Episode:
    ep = Episode(agent="claude")
    usage_by_msg: dict[str, dict[str, Any]] = {}
    calls: dict[str, ToolCall] = {}
    turn: Turn | None = None
    last_msg_id = ""
    # file order is not conversation order (an assistant line can be flushed before the
    # prompt's line): order the conversation lines by their timestamps, stably
    lines = [d for d in _lines(path) if d.get("type") in ("user", "assistant")]
    lines.sort(key=lambda d: str(d.get("timestamp") or ""))
    for d in lines:
        ep.session_id = ep.session_id or str(d.get("sessionId", ""))
        kind = d.get("type")
        raw = d.get("message")
        msg: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if kind == "user" and not d.get("isMeta") and not d.get("isSidechain"):
            content = msg.get("content")
            if isinstance(content, str):
                if content.startswith(("<command-", "<local-command")):
                    continue
                turn = Turn(index=len(ep.turns), user_text=content)
                ep.turns.append(turn)
                last_msg_id = ""
            elif isinstance(content, list):
                for b in content:
                    if isinstance(b, dict) and b.get("type") == "tool_result":
                        c = calls.get(str(b.get("tool_use_id")))
                        if c is not None:
                            c.output = _text_of(b.get("content"))
                            c.is_error = bool(b.get("is_error"))
        elif kind == "assistant" and not d.get("isSidechain"):
            if turn is None:
                turn = Turn(index=0, user_text="")
                ep.turns.append(turn)
            ep.model = str(msg.get("model") or ep.model)
            mid = str(msg.get("id") or d.get("uuid") or "")
            if msg.get("usage"):
                usage_by_msg[mid] = msg["usage"]
            if d.get("isApiErrorMessage"):
                ep.api_errors.append(_text_of(msg.get("content"))[:500])
                continue
            if mid != last_msg_id:
                turn.final_text = ""
                last_msg_id = mid
            for b in msg.get("content") or []:
                if not isinstance(b, dict):
                    continue
                if b.get("type") == "text" and b.get("text"):
                    turn.texts.append(b["text"])
                    turn.final_text = (turn.final_text + "\n" + b["text"]).strip()
                elif b.get("type") == "tool_use":
                    given = b.get("input")
                    call = ToolCall(id=str(b.get("id", "")), name=str(b.get("name", "")),
                                    input=given if isinstance(given, dict) else {})
                    calls[call.id] = call
                    turn.tool_calls.append(call)
                    turn.final_text = ""
    for u in usage_by_msg.values():
        ep.usage.input_tokens += int(u.get("input_tokens") or 0)
        ep.usage.output_tokens += int(u.get("output_tokens") or 0)
        ep.usage.cached_input_tokens += int(u.get("cache_read_input_tokens") or 0)
    return ep


_CODEX_CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "<permissions", "# AGENTS.md")


def parse_codex(path: Path) -> Episode:
    ep = Episode(agent="codex")
    calls: dict[str, ToolCall] = {}
    turn: Turn | None = None
    for d in _lines(path):
        kind, payload = d.get("type"), d.get("payload")
        p: dict[str, Any] = payload if isinstance(payload, dict) else {}
        ptype = p.get("type")
        if kind == "session_meta":
            ep.session_id = str(p.get("id") or p.get("session_id") or "")
        elif kind == "turn_context":
            ep.model = str(p.get("model") or ep.model)
        elif kind == "response_item" and ptype == "message":
            role, text = p.get("role"), _text_of(p.get("content"))
            if role == "user" and not text.lstrip().startswith(_CODEX_CONTEXT_PREFIXES):
                turn = Turn(index=len(ep.turns), user_text=text)
                ep.turns.append(turn)
            elif role == "assistant" and text:
                if turn is None:
                    turn = Turn(index=0, user_text="")
                    ep.turns.append(turn)
                turn.texts.append(text)
                turn.final_text = text
        elif kind == "response_item" and ptype in ("function_call", "custom_tool_call", "local_shell_call"):
            if turn is None:
                turn = Turn(index=0, user_text="")
                ep.turns.append(turn)
            raw = p.get("arguments") or p.get("input") or p.get("action") or {}
            try:
                inp = json.loads(raw) if isinstance(raw, str) else dict(raw)
            except (json.JSONDecodeError, TypeError, ValueError):
                inp = {"raw": raw}
            call = ToolCall(id=str(p.get("call_id") or p.get("id") or ""), name=str(p.get("name") or ptype), input=inp if isinstance(inp, dict) else {"value": inp})
            calls[call.id] = call
            turn.tool_calls.append(call)
            turn.final_text = ""
        elif kind == "response_item" and ptype in ("function_call_output", "custom_tool_call_output"):
            c = calls.get(str(p.get("call_id")))
            if c is not None:
                out = p.get("output")
                c.output = out if isinstance(out, str) else json.dumps(out)
                exit_line = [ln for ln in c.output.splitlines() if ln.startswith("Process exited with code")]
                c.is_error = bool(exit_line) and not exit_line[-1].endswith(" 0")
        elif kind == "token_usage_record":
            u = p.get("usage") or {}
            ep.usage.input_tokens += int(u.get("input_tokens") or 0)
            ep.usage.output_tokens += int(u.get("output_tokens") or 0)
            ep.usage.cached_input_tokens += int(u.get("cached_input_tokens") or 0)
        elif kind == "event_msg" and ptype == "task_complete" and turn is not None:
            last = p.get("last_agent_message")
            if isinstance(last, str) and last:
                turn.final_text = last
        elif kind == "event_msg" and ptype in ("error", "stream_error"):
            ep.api_errors.append(str(p.get("message") or p)[:500])
    return ep
