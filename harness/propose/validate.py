"""Checks on proposed files before any replay spends a trial on them.

Why before the replay: a candidate whose SKILL.md lost its front matter is not a worse
skill, it is no skill (the CLI would not list it), and replaying it costs a night's trials
to learn what a parser knows at once. Each check reports every problem, not the first:
the proposer's record shows the whole list.

What holds for a usable candidate:

- every edit names a file of the targets (a path relative to the project, no ``..``, not
  absolute; an unambiguous tail such as ``SKILL.md`` is resolved to the one target file it
  names);
- a SKILL.md keeps a parseable YAML front matter with a non-empty ``name`` and
  ``description``;
- every heading the file had is still there unless an edit deleted its section;
- each file stays within ``max_bytes``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath

import yaml

from harness.propose import sections as md
from harness.propose.edits import Edit

_NAME_MAX, _DESCRIPTION_MAX = 64, 1024  # the limits claude puts on a skill's name and description


def path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe project-relative path, or None."""
    if "\\" in name or "\x00" in name:
        return "has a backslash or NUL"
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith("~"):
        return "is absolute"
    if any(part == ".." for part in p.parts):
        return "escapes the project (..)"
    if not p.parts or name.strip() in (".", ""):
        return "is empty"
    return None


def resolve_files(edits: list[Edit], files: list[str]) -> tuple[list[Edit], list[str]]:
    """Edits with ``file`` normalised to a target file, and a problem for each edit whose
    file is unsafe, outside the targets, or ambiguous (those edits are left out)."""
    known = set(files)
    out: list[Edit] = []
    probs: list[str] = []
    for i, e in enumerate(edits):
        why = path_problem(e.file)
        if why:
            probs.append(f"edits.{i}: file {e.file!r} {why}")
            continue
        norm = PurePosixPath(e.file).as_posix().removeprefix("./")
        if norm in known:
            out.append(e.model_copy(update={"file": norm}))
            continue
        tail = [f for f in files if f.endswith("/" + norm)]
        if len(tail) == 1:
            out.append(e.model_copy(update={"file": tail[0]}))
        elif tail:
            probs.append(f"edits.{i}: file {e.file!r} is ambiguous: {', '.join(sorted(tail))}")
        else:
            probs.append(f"edits.{i}: file {e.file!r} is not a target file "
                         f"(targets: {', '.join(sorted(files)) or 'none'})")
    return out, probs


def front_matter_problems(name: str, text: str) -> list[str]:
    """A SKILL.md's front matter: there, YAML, a mapping, ``name`` and ``description`` kept."""
    block, _ = md.split_front_matter(text)
    if not block:
        return [f"{name}: no YAML front matter (a SKILL.md opens with ---, name:, description:, ---)"]
    try:
        data = yaml.safe_load(md.front_matter_body(block))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark is not None else ""
        return [f"{name}: front matter is not YAML{at}: {getattr(exc, 'problem', None) or exc}"]
    if not isinstance(data, dict):
        return [f"{name}: front matter is not a mapping of keys"]
    probs: list[str] = []
    for key, limit in (("name", _NAME_MAX), ("description", _DESCRIPTION_MAX)):
        v = data.get(key)
        if not isinstance(v, str) or not v.strip():
            probs.append(f"{name}: front matter lost its {key}")
        elif len(v) > limit:
            probs.append(f"{name}: front matter {key} is {len(v)} characters, over {limit}")
    return probs


def dropped_headings(before: str, after: str, deleted: list[str]) -> list[str]:
    """Headings of ``before`` missing from ``after`` that no delete edit named (a deleted
    section's sub-headings go with it)."""
    _, b = md.split_front_matter(before)
    _, a = md.split_front_matter(after)
    allowed: Counter[str] = Counter()
    for section in deleted:
        for h in md.find(b, section):
            allowed += md.section_keys(b, h)
    missing = md.heading_keys(b) - allowed - md.heading_keys(a)
    return sorted(missing)


def file_problems(name: str, before: str, after: str, edits: list[Edit], *,
                  max_bytes: int) -> list[str]:
    """Every problem of one proposed file."""
    probs: list[str] = []
    size = len(after.encode())
    if size > max_bytes:
        probs.append(f"{name}: {size:,} bytes, over the {max_bytes:,}-byte limit")
    if PurePosixPath(name).name == "SKILL.md":
        probs.extend(front_matter_problems(name, after))
    deleted = [e.section for e in edits if e.file == name and e.op == "delete"]
    for key in dropped_headings(before, after, deleted):
        probs.append(f"{name}: heading {key!r} was dropped (only a delete edit removes a section)")
    return probs


def proposal_problems(before: dict[str, str], after: dict[str, str], edits: list[Edit], *,
                      max_bytes: int) -> list[str]:
    """Every problem of every changed file."""
    probs: list[str] = []
    for name in sorted(after):
        if after[name] != before.get(name):
            probs.extend(file_problems(name, before.get(name, ""), after[name], edits,
                                       max_bytes=max_bytes))
    return probs
