"""Markdown sections, as the proposer edits them: a heading line and its body, up to the next
heading of the same or a higher level (so a ``##`` section carries its ``###`` children).

Why our own few lines instead of a markdown library: an edit must leave every byte outside
the edited section as it was (a reviewer diffs the candidate against the live file), and a
parse-and-render round trip would not. Lines inside fenced code blocks are never headings
(a ``# comment`` in a shell example is not a section). A SKILL.md's YAML front matter is a
block of its own, outside every section.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

FRONT_MATTER = "front matter"
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Heading:
    """One heading: its line index in the body, its level (1-6) and its text."""

    line: int
    level: int
    text: str

    @property
    def key(self) -> str:
        """How the heading is named in edits and errors: ``## Steps``."""
        return f"{'#' * self.level} {self.text}"


def split_front_matter(text: str) -> tuple[str, str]:
    """``(front matter block with its two --- lines, the rest)``; ``("", text)`` when the
    text does not open with a closed ``---`` block."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return "", text
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[: i + 1]), "".join(lines[i + 1 :])
    return "", text


def front_matter_body(block: str) -> str:
    """The YAML between a front matter block's ``---`` lines."""
    lines = block.splitlines(keepends=True)
    return "".join(lines[1:-1])


def headings(body: str) -> list[Heading]:
    """Every heading of ``body`` outside fenced code blocks, in order."""
    out: list[Heading] = []
    fence: str | None = None
    for i, line in enumerate(body.splitlines()):
        f = _FENCE.match(line)
        if f:
            mark = f.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        m = _HEADING.match(line)
        if m and m.group(2).strip():
            out.append(Heading(i, len(m.group(1)), _norm(m.group(2))))
    return out


def heading_keys(body: str) -> Counter[str]:
    """The headings of ``body`` as a multiset of keys (a heading may repeat)."""
    return Counter(h.key for h in headings(body))


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def parse_name(section: str) -> tuple[int | None, str]:
    """``"## Steps"`` → ``(2, "Steps")``; a bare ``"Steps"`` → ``(None, "Steps")`` (any level)."""
    m = _HEADING.match(section.strip())
    if m and m.group(2).strip():
        return len(m.group(1)), _norm(m.group(2))
    return None, _norm(section)


def find(body: str, section: str) -> list[Heading]:
    """The headings ``section`` names (compared without case and extra spaces)."""
    level, text = parse_name(section)
    want = text.casefold()
    return [h for h in headings(body)
            if h.text.casefold() == want and (level is None or h.level == level)]


def span(body: str, head: Heading) -> tuple[int, int]:
    """The line range ``[start, end)`` of ``head``'s section: up to the next heading of the
    same or a higher level, or the end."""
    hs = headings(body)
    end = len(body.splitlines())
    for h in hs:
        if h.line > head.line and h.level <= head.level:
            end = h.line
            break
    return head.line, end


def section_keys(body: str, head: Heading) -> Counter[str]:
    """The heading keys inside ``head``'s section, its own included."""
    start, end = span(body, head)
    return Counter(h.key for h in headings(body) if start <= h.line < end)
