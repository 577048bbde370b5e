"""A flat, API-neutral view of one model request.

Why: the scripted policy, the replay matcher and the tests all ask the same questions of a
request ("what did the human say last?", "did a tool just run?", "which skills were
offered?"), and each wire format answers them in different places. Each wire module
(:mod:`.wires`) parses its requests once into this view, which keeps every consumer
format-agnostic; the helpers here are the parsing pieces the wires share.

Everything is derived from the request body alone, so a retried request yields the same view
(the CLIs retry 429 / 529 / 5xx with an identical body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Api = str  # a wire name from harness.gateway.wires
Kind = Literal["main", "title", "count_tokens"]

SKILLS_MARKER = "The following skills are available for use with the Skill tool"
CODEX_SKILLS_MARKER = "### Available skills"
_CODEX_FILE_SUFFIX = re.compile(r"\s*\(file: [^)]*\)$")
_SKILL_LINE = re.compile(r"^- ([^:\n]+?): ?(.*)$")
_SKILL_TAG = re.compile(r"<skill>\s*<name>(.*?)</name>\s*<description>(.*?)</description>",
                        re.DOTALL)
REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


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


def view_of(api: Api, kind: Kind, body: dict[str, Any], *, user_text: str, system: str,
            all_text: str, results: list[str], tools: tuple[str, ...], step: int,
            human: int) -> RequestView:
    """The view a wire's parser found: what every wire reads alike (model, stream flag, the
    skills offered in the text) taken here, the parts each wire finds its own way passed in."""
    return RequestView(api=api, kind=kind, model=str(body.get("model", "")),
                       stream=bool(body.get("stream", False)), user_text=user_text, system=system,
                       all_text=all_text, tool_results=tuple(results),
                       skills=parse_skills(all_text), tools=tools, step=step, human_messages=human)


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


def parse_skill_tags(text: str) -> tuple[tuple[str, str], ...]:
    """Skill ``(name, description)`` pairs in the ``<skill><name>..</name><description>..``
    form (an ``<available_skills>`` list, as CLIs following the Agent Skills format show
    them, often inside a tool's description)."""
    uniq: dict[str, str] = {}
    for m in _SKILL_TAG.finditer(text):
        uniq.setdefault(m.group(1).strip(), " ".join(m.group(2).split()))
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


def blocks_text(content: Any, *, types: tuple[str, ...] = ("text",)) -> list[str]:
    """The texts of a content field: a bare string, or the text blocks of these ``types``."""
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
