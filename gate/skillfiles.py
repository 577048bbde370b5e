"""Structural check of a candidate's skill files, before its scores are trusted.

An optimizer that raises scores by deleting a skill's frontmatter, or by bloating it until
it crowds the context window, has not improved the skill. So a candidate must keep: YAML
frontmatter with ``name`` and ``description`` on every ``SKILL.md``, sizes under limits,
and the required sections (policy-given, plus every heading the baseline's file had when
``keep_baseline_sections`` is on).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import yaml

from gate.checks.answer import iter_sections

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def split_frontmatter(text: str) -> tuple[dict[str, object] | None, str, str | None]:
    """``(frontmatter, body, problem)``; frontmatter is None when absent or unreadable."""
    if not text.startswith("---"):
        return None, text, "no YAML frontmatter"
    end = re.search(r"^---[ \t]*$", text[3:], re.MULTILINE)
    if not end:
        return None, text, "frontmatter is not closed with ---"
    raw, body = text[3 : 3 + end.start()], text[3 + end.end() :]
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        return None, body, f"frontmatter is not valid YAML: {str(exc).splitlines()[0]}"
    if not isinstance(data, dict):
        return None, body, "frontmatter is not a mapping"
    return data, body, None


def headings(text: str) -> list[str]:
    return [h for _, h, _ in iter_sections(text)]


def check_skill_files(
    candidate: Mapping[str, str],
    *,
    baseline: Mapping[str, str] | None = None,
    max_file_bytes: int = 50_000,
    max_name_chars: int = 64,
    max_description_chars: int = 1024,
    required_sections: Sequence[str] = (),
    keep_baseline_sections: bool = True,
) -> list[str]:
    """Every structural problem of ``candidate`` (relative path -> text), empty when sound."""
    problems: list[str] = []
    if not candidate:
        return ["candidate has no skill files"]
    for path, text in sorted(candidate.items()):
        size = len(text.encode("utf-8"))
        if size > max_file_bytes:
            problems.append(f"{path}: {size} bytes exceeds the {max_file_bytes}-byte limit")
        is_skill = path.rsplit("/", 1)[-1] == "SKILL.md"
        body = text
        if is_skill:
            front, body, problem = split_frontmatter(text)
            if problem:
                problems.append(f"{path}: {problem}")
            if front is not None:
                problems.extend(_front_problems(path, front, max_name_chars, max_description_chars))
        if not is_skill and not path.endswith(".md"):
            continue
        have = {h.casefold() for h in headings(body)}
        wanted = list(required_sections)
        if keep_baseline_sections and baseline and path in baseline:
            _, base_body, _ = split_frontmatter(baseline[path])
            wanted += headings(base_body)
        missing = sorted({w for w in wanted if w.casefold() not in have})
        if missing:
            problems.append(f"{path}: required section(s) removed: {', '.join(missing)}")
    return problems


def _front_problems(
    path: str, front: Mapping[str, object], max_name: int, max_desc: int
) -> list[str]:
    out: list[str] = []
    name, desc = front.get("name"), front.get("description")
    if not isinstance(name, str) or not name.strip():
        out.append(f"{path}: frontmatter lacks a name")
    elif len(name) > max_name or not NAME_RE.match(name):
        out.append(f"{path}: name {name!r} must be <= {max_name} chars of a-z, 0-9 and -")
    if not isinstance(desc, str) or not desc.strip():
        out.append(f"{path}: frontmatter lacks a description")
    elif len(desc) > max_desc:
        out.append(f"{path}: description is {len(desc)} chars (max {max_desc})")
    return out
