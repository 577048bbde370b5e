"""A flat, API-neutral view of one model request.

Why: the scripted policy, the replay matcher and the tests all ask the same questions of a
request ("what did the human say last?", "did a tool just run?", "which skills were
offered?"), and the two wire formats (Anthropic Messages, OpenAI Responses) answer them in
different places. Parsing once, here, keeps every consumer format-agnostic.

Everything is derived from the request body alone, so a retried request yields the same view
(the CLIs retry 429 / 529 / 5xx with an identical body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Api = Literal["anthropic", "openai"]
Kind = Literal["main", "title", "count_tokens"]

SKILLS_MARKER = "The following skills are available for use with the Skill tool"
CODEX_SKILLS_MARKER = "### Available skills"
_CODEX_FILE_SUFFIX = re.compile(r"\s*\(file: [^)]*\)$")
_SKILL_LINE = re.compile(r"^- ([^:\n]+?): ?(.*)$")
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
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


@dataclass(frozen=True)
class RequestView:
    """What a policy may match on. ``step`` counts tool rounds since the human's message."""

    api: Api
    kind: Kind
    model: str = ""
    stream: bool = False
    user_text: str = ""
    system: str = ""
    all_text: str = ""
    tool_results: tuple[str, ...] = ()
    skills: tuple[tuple[str, str], ...] = ()
    tools: tuple[str, ...] = ()
    step: int = 0
    human_messages: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def skill_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.skills)

    @property
    def skill_lines(self) -> str:
        return "\n".join(f"{n}: {d}" for n, d in self.skills)


def parse_skills(text: str) -> tuple[tuple[str, str], ...]:
    """Skill ``(name, description)`` pairs: claude lists them after its Skill-tool marker,
    codex under ``### Available skills`` with a ``(file: ...)`` suffix we drop."""
    out: list[tuple[str, str]] = []
    for marker in (SKILLS_MARKER, CODEX_SKILLS_MARKER):
        out.extend(_skills_after(text, marker))
    # A skill listed twice (several reminders) counts once, first description wins.
    uniq: dict[str, str] = {}
    for name, desc in out:
        uniq.setdefault(name, _CODEX_FILE_SUFFIX.sub("", desc))
    return tuple(uniq.items())


def _skills_after(text: str, marker: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    start = 0
    while (i := text.find(marker, start)) >= 0:
        start = i + len(marker)
        started = False
        for line in text[start:].splitlines()[1:]:
            m = _SKILL_LINE.match(line.strip())
            if m:
                started = True
                out.append((m.group(1).strip(), m.group(2).strip()))
            elif started or line.strip():
                break
    return out


def _blocks_text(content: Any, *, types: tuple[str, ...] = ("text",)) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for b in content:
            if isinstance(b, dict) and b.get("type") in types and isinstance(b.get("text"), str):
                out.append(b["text"])
            elif isinstance(b, str):
                out.append(b)
    return out


def _tool_result_text(block: dict[str, Any]) -> str:
    c = block.get("content", "")
    return "\n".join(_blocks_text(c)) if not isinstance(c, str) else c


def view_anthropic(body: dict[str, Any], *, count_tokens: bool = False) -> RequestView:
    """Parse a Messages request. Title requests carry no tools and a ``<session>`` wrapper."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = "\n".join(_blocks_text(body.get("system", "")))
    tools = tuple(str(t.get("name", "")) for t in body.get("tools") or [] if isinstance(t, dict))
    all_texts: list[str] = [system]
    human_idx = -1
    human = 0
    for i, m in enumerate(messages):
        content = m.get("content", "")
        all_texts.extend(_blocks_text(content))
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
        parts = _blocks_text(messages[human_idx].get("content", ""))
        stripped = [p for p in (_REMINDER.sub("", t).strip() for t in parts) if p]
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
    return RequestView(
        api="anthropic",
        kind=kind,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream", False)),
        user_text=user_text,
        system=system,
        all_text=all_text,
        tool_results=tuple(results),
        skills=parse_skills(all_text),
        tools=tools,
        step=step,
        human_messages=human,
    )


def _is_codex_context(text: str) -> bool:
    return text.lstrip().startswith(_CODEX_CONTEXT_PREFIXES)


def view_openai(body: dict[str, Any]) -> RequestView:
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
        texts = _blocks_text(item.get("content", ""), types=("input_text", "output_text", "text"))
        all_texts.extend(texts)
        role = item.get("role")
        if role in ("developer", "system"):
            system_parts.extend(texts)
        elif role == "user" and texts and not all(_is_codex_context(t) for t in texts):
            human += 1
            human_idx = i
    user_text = ""
    if human_idx >= 0:
        texts = _blocks_text(
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
        results.insert(0, out if isinstance(out, str) else "\n".join(_blocks_text(out)))
    tools = tuple(
        str(t.get("name") or t.get("type") or "") for t in body.get("tools") or []
        if isinstance(t, dict)
    )
    system = "\n".join(p for p in system_parts if p)
    all_text = "\n".join([system, *all_texts])
    kind: Kind = "main"
    if not tools and _looks_like_codex_title(system, user_text):
        kind = "title"
    return RequestView(
        api="openai",
        kind=kind,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream", False)),
        user_text=user_text,
        system=system,
        all_text=all_text,
        tool_results=tuple(results),
        skills=parse_skills(all_text),
        tools=tools,
        step=step,
        human_messages=human,
    )


def _looks_like_codex_title(system: str, user_text: str) -> bool:
    """Codex's title request has no tools and asks for a title in its instructions."""
    low = (system + "\n" + user_text[:400]).lower()
    return "title" in low
