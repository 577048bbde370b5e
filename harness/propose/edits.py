"""The edit set a proposer may reply with, how its reply is read, and how edits are applied.

Why sections and not free-form rewrites or diffs: a section (a markdown heading and its
body) is what a person reviewing a skill change thinks in, a model names it reliably (unlike
line numbers or diff hunks), and an edit bounded to one section cannot silently drop the
rest of the file. Three ops cover the ground: ``add`` a new section (after a named one, or
at the end), ``replace`` one, ``delete`` one; a SKILL.md's YAML front matter (name and
description: what the agent sees before it opens the skill) is replaced as the section
``front matter``. Every edit says why (``rationale``): the night's record shows it and the
gate's rejections are remembered with it.

A reply that is not a valid edit set raises :class:`ProposalInvalid` naming every problem
on one line; the caller keeps the raw reply and goes on with other candidates.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError
from harness.propose import sections as md

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)


class ProposalInvalid(ConfigError):
    """The proposer's reply, or the files it would make, cannot be used; ``problems`` lists
    each reason (the message joins them on one line)."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{what}: {n} problem{'s' if n != 1 else ''}: " + "; ".join(self.problems),
                         hint="the reply is kept beside the proposal; the night goes on "
                              "with the other candidates")


class Edit(BaseModel):
    """One section edit of one target file."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1, description="the target file, relative to the project, "
                      "exactly as shown (e.g. .claude/skills/tests/SKILL.md or CLAUDE.md)")
    op: Literal["add", "replace", "delete"]
    section: str = Field(min_length=1, description="the section's heading line, e.g. "
                         "'## Steps'; 'front matter' for a SKILL.md's YAML front matter "
                         "(replace only); for add, the new section's heading")
    after: str | None = Field(default=None, description="add only: the heading of the "
                              "section to put the new one after; omitted: at the end")
    content: str = Field(default="", description="add / replace: the whole section, its "
                         "heading line first (for front matter: the YAML lines); delete: empty")
    rationale: str = Field(min_length=1, description="why this edit should make the agent "
                           "do better on the evidence shown")

    @field_validator("rationale", "section", "file")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


class EditSet(BaseModel):
    """What the proposer replies with: ``{"edits": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    edits: list[Edit]


def edit_schema() -> dict[str, Any]:
    """The JSON schema the prompt shows the model."""
    return EditSet.model_json_schema()


def _json_text(reply: str) -> str:
    """The JSON inside ``reply``: the whole text, else its first fenced block that parses,
    else the span from the first ``{`` to the last ``}``."""
    text = reply.strip()
    candidates = [text, *(m.group(1) for m in _FENCED.finditer(reply))]
    i, j = text.find("{"), text.rfind("}")
    if 0 <= i < j:
        candidates.append(text[i : j + 1])
    for c in candidates:
        try:
            json.loads(c)
        except ValueError:
            continue
        return c
    raise ProposalInvalid("the proposer's reply is not an edit set",
                          ["it holds no JSON object (expected {\"edits\": [...]}, "
                           "optionally in a ```json block)"])


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


def parse_reply(reply: str, *, max_edits: int) -> list[Edit]:
    """The edits in a model's reply; :class:`ProposalInvalid` with every problem otherwise."""
    data = json.loads(_json_text(reply))
    if isinstance(data, list):
        data = {"edits": data}  # a bare list of edits is read as the edit set it means
    try:
        es = EditSet.model_validate(data)
    except ValidationError as exc:
        raise ProposalInvalid("the proposer's reply is not a valid edit set",
                              [f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors()]) from None
    probs: list[str] = []
    if not es.edits:
        probs.append("it proposes no edits")
    if len(es.edits) > max_edits:
        probs.append(f"{len(es.edits)} edits, over the budget of {max_edits}")
    for i, e in enumerate(es.edits):
        probs.extend(f"edits.{i}: {p}" for p in _shape(e))
    if probs:
        raise ProposalInvalid("the proposer's reply is not a valid edit set", probs)
    return es.edits


def _shape(e: Edit) -> list[str]:
    """What is wrong with one edit on its own (before any file is looked at)."""
    probs: list[str] = []
    fm = e.section.casefold() == md.FRONT_MATTER
    if e.after is not None and e.op != "add":
        probs.append(f"'after' is for add, not {e.op}")
    if e.op == "delete" and e.content.strip():
        probs.append("delete takes no content")
    if e.op in ("add", "replace") and not e.content.strip():
        probs.append(f"{e.op} needs content")
    if fm and e.op != "replace":
        probs.append("the front matter can only be replaced")
    if e.op == "add" and not fm and md.parse_name(e.section)[0] is None:
        probs.append(f"add needs a heading line as section (e.g. '## {e.section}')")
    return probs


# ---------------------------------------------------------------- applying edits


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _block(content: str, heading: str | None) -> list[str]:
    """A section's lines from ``content``: the heading line first (``heading`` is put in
    front when the content does not start with one), ending in a newline."""
    body = content.strip("\n")
    first = body.splitlines()[0] if body else ""
    if heading is not None and md.parse_name(first)[0] is None:
        body = heading + "\n\n" + body
    return _lines(body + "\n")


def _blank(line: str) -> bool:
    return not line.strip()


def _same_heading(a: str, b: str) -> bool:
    (la, ta), (lb, tb) = md.parse_name(a), md.parse_name(b)
    return la == lb and ta.casefold() == tb.casefold()


def apply_one(text: str, e: Edit) -> str:
    """``text`` with one edit applied; ValueError saying why it cannot be."""
    fm, body = md.split_front_matter(text)
    if e.section.casefold() == md.FRONT_MATTER:
        if not fm:
            raise ValueError("the file has no front matter to replace")
        y = e.content.strip("\n")
        ylines = y.splitlines()
        if ylines and ylines[0].strip() == "---":
            ylines = ylines[1:]
        if ylines and ylines[-1].strip() in ("---", "..."):
            ylines = ylines[:-1]
        return "---\n" + "".join(f"{x}\n" for x in ylines) + "---\n" + body
    lines = _lines(body)
    if e.op == "add":
        first = e.content.strip("\n").splitlines()[0] if e.content.strip() else ""
        if md.parse_name(first)[0] is not None and not _same_heading(first, e.section):
            raise ValueError(f"its content starts with {first.strip()!r}, not the section's "
                             "heading")
        if md.find(body, e.section):
            raise ValueError(f"a section {e.section!r} is already there (use replace)")
        new = _block(e.content, e.section)
        if e.after is None:
            at = len(lines)
        else:
            heads = md.find(body, e.after)
            if len(heads) != 1:
                raise ValueError(f"after {e.after!r}: " + ("no such section" if not heads
                                                           else f"{len(heads)} sections match"))
            at = md.span(body, heads[0])[1]
        if lines and not lines[-1].endswith("\n") and at == len(lines):
            lines[-1] += "\n"
        before = [] if at == 0 or _blank(lines[at - 1]) else ["\n"]
        after = ["\n"] if at < len(lines) else []
        return fm + "".join(lines[:at] + before + new + after + lines[at:])
    heads = md.find(body, e.section)
    if len(heads) != 1:
        raise ValueError("no such section" if not heads else
                         f"{len(heads)} sections match (name it with its level, e.g. '## X')")
    start, end = md.span(body, heads[0])
    if e.op == "delete":
        return fm + "".join(lines[:start] + lines[end:])
    old = lines[start:end]
    trailing = 0
    while trailing < len(old) and _blank(old[len(old) - 1 - trailing]):
        trailing += 1
    new = _block(e.content, heads[0].key) + ["\n"] * trailing
    if end < len(lines) and not trailing:
        new.append("\n")
    return fm + "".join(lines[:start] + new + lines[end:])


def apply_edits(texts: dict[str, str], edits: list[Edit]) -> tuple[dict[str, str], list[str]]:
    """Every edit applied in order to ``texts`` (file → text; edits must name files in it);
    returns the new texts and one problem per edit that could not be applied."""
    out = dict(texts)
    probs: list[str] = []
    for i, e in enumerate(edits):
        try:
            out[e.file] = apply_one(out[e.file], e)
        except ValueError as exc:
            probs.append(f"edits.{i} ({e.op} {e.section!r} in {e.file}): {exc}")
    return out, probs


def edit_dict(e: Edit) -> dict[str, Any]:
    """An edit as the record keeps it (``after`` only when set)."""
    return e.model_dump(exclude_none=True)
