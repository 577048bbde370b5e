"""The proposer's prompt: the current target files, the evidence, the budget, the edit set's
JSON schema, and the edits the gate already rejected.

Why the first line is a fixed marker (:data:`MARKER`): a scripted Gateway rule matches it
(``match: {user: '^harness-proposer/v1'}``), so tests and the offline demo can answer the
proposer without matching on evidence that changes every night; the version in it changes
when the reply format does. Why the rejected edits are shown with the gate's reason: a
model told only "not this" tends to propose the same idea reworded; the reason says what
the replay showed.
"""

from __future__ import annotations

import json
from typing import Any

from harness.propose.edits import edit_schema

MARKER = "harness-proposer/v1"
REJECTED_CONTENT_CHARS = 600

SYSTEM = (
    "You improve the instruction files (skills and memory files) that a coding agent reads. "
    "You are shown those files, and evidence from replayed tasks: what the agent was asked, "
    "what it answered, which checks failed and why, and what it changed. Propose a small set "
    "of section edits that would make the agent pass the failed tasks without breaking the "
    "passed ones. Reply with the JSON edit set only."
)

RULES = """\
- Each edit changes one section of one file: a markdown heading and everything under it up
  to the next heading of the same or a higher level.
- op "replace": `section` names an existing heading (e.g. "## Steps"); `content` is the whole
  new section, starting with that same heading line. The heading stays; to rename a section,
  delete it and add the new one.
- op "add": `section` is the new heading line (e.g. "## Checks"); `content` is the whole new
  section; `after` names the heading to put it after (omit it to add at the end).
- op "delete": `section` names an existing heading; no `content`. Only delete removes a
  heading: every other heading must stay.
- A SKILL.md's YAML front matter is the section "front matter" (op replace only; `content`
  is the YAML lines). Keep its `name` and `description`: the agent sees only those until it
  opens the skill, so they decide whether it is used.
- `file` is the file's path exactly as shown below. Only the files shown can be edited.
- Every edit has a `rationale`: which evidence it answers and why it should help.
- Keep each file under {max_bytes} bytes. Never weaken checks or tell the agent to edit tests."""


def _files(texts: dict[str, str]) -> str:
    parts = []
    for name in sorted(texts):
        parts.append(f"### FILE {name}\n<<<<<<<<\n{texts[name].rstrip()}\n>>>>>>>>")
    return "\n\n".join(parts)


def _rejected(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return "(none yet)"
    out = []
    for i, e in enumerate(examples, 1):
        content = str(e.get("content", ""))
        if len(content) > REJECTED_CONTENT_CHARS:
            content = content[:REJECTED_CONTENT_CHARS] + " [...]"
        lines = [f"{i}. DO NOT PROPOSE AGAIN: {e.get('op')} {e.get('section')!r} in "
                 f"{e.get('file')} (night {e.get('night_id') or '?'})",
                 f"   gate's reason: {e.get('reason', '')}",
                 f"   its rationale was: {e.get('rationale', '')}"]
        if content.strip():
            lines.append("   its content was:\n" + "\n".join(f"   | {x}"
                                                            for x in content.splitlines()))
        out.append("\n".join(lines))
    return "\n".join(out)


def build_prompt(texts: dict[str, str], evidence: str, *, max_edits: int, max_bytes: int,
                 rejected: list[dict[str, Any]]) -> str:
    """The user message (the marker line first); :data:`SYSTEM` is the system prompt."""
    schema = json.dumps(edit_schema(), sort_keys=True)
    return "\n\n".join([
        MARKER,
        "# Task\nPropose at most "
        f"{max_edits} edit{'s' if max_edits != 1 else ''} to the files below (the edit "
        "budget). Fewer, precise edits are better than many.",
        "# Rules\n" + RULES.format(max_bytes=max_bytes),
        "# Reply format\nOne JSON object, optionally inside a ```json block, valid against "
        f"this JSON schema:\n```json\n{schema}\n```",
        "# Current files\n" + _files(texts),
        "# Evidence from replayed trials\n" + evidence.rstrip(),
        "# Rejected before: do not propose again\nThe gate rejected these edits on earlier "
        "nights (the replay showed no improvement, or a regression). Do not propose them "
        "again, reworded or not.\n" + _rejected(rejected),
    ]) + "\n"
