"""Where each candidate file lands in the live skill, whatever shape the live skill has.

Why this exists: a run stores a variant as ``skills/<name>/...`` plus ``CLAUDE.md`` /
``AGENTS.md``, but live skills come in other shapes (gbrain-evals and SkillOpt keep one skill
as a folder with ``SKILL.md`` at its root). Copying the run's relative paths onto such a folder
writes a new ``skills/<name>/SKILL.md`` beside the live one and leaves the live skill as it was.
So both sides are read as a :class:`Layout` (skills with their folders, memory files) and the
candidate's files are mapped onto the live folders; when two readings are possible the mapping
refuses instead of guessing.

Shapes read (the same as ``harness run --variant`` accepts, plus ``<name>/SKILL.md``):

- one skill folder: ``SKILL.md`` at its root (other files such as ``references/`` belong to it),
  optionally with ``skills/<name>/SKILL.md`` and ``CLAUDE.md`` / ``AGENTS.md`` beside it;
- a folder of skills: ``skills/<name>/SKILL.md`` or ``<name>/SKILL.md``, optionally with
  ``CLAUDE.md`` / ``AGENTS.md`` at its top;
- a single ``SKILL.md``, ``CLAUDE.md`` or ``AGENTS.md`` file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from harness.errors import GateError

MEMORY_FILES = ("CLAUDE.md", "AGENTS.md")
SWAP_MARK = ".harness-swap"  # temp / aside files of an adopt in flight; never skill files
_NAME = re.compile(r"^name:\s*['\"]?([A-Za-z0-9._-]+)", re.MULTILINE)
_MAX_FILES = 500

Kind = Literal["skill_folder", "skills_folder", "skill_file", "memory_file"]
KIND_TEXT: dict[str, str] = {
    "skill_folder": "one skill folder",
    "skills_folder": "a folder of skills",
    "skill_file": "a SKILL.md file",
    "memory_file": "a memory file",
}


@dataclass(frozen=True)
class SkillDir:
    """One skill: its names (frontmatter ``name:`` and folder name) and where it lives."""

    name: str                 # the frontmatter name, else the folder name
    keys: frozenset[str]      # every name it can be matched by
    rel: str                  # its folder relative to the layout root ("" for the root skill)
    files: tuple[str, ...]    # its files relative to its folder (listed for candidates only)


@dataclass(frozen=True)
class Layout:
    kind: Kind
    root: Path                       # the folder every path is relative to
    skills: tuple[SkillDir, ...]
    memory: tuple[str, ...]          # memory files that exist, relative to root


@dataclass(frozen=True)
class Mapped:
    """One candidate file and the live path (relative to the live root) it replaces or creates."""

    target: str
    source: str                      # relative to the candidate's root, for reports
    source_path: Path


def _frontmatter_name(skill_md: Path) -> str | None:
    text = skill_md.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    m = _NAME.search(text[: end if end > 0 else 2000])
    return m.group(1) if m else None


def _skill(root: Path, folder: Path, *, list_files: bool, skip: tuple[Path, ...] = ()) -> SkillDir:
    fm = _frontmatter_name(folder / "SKILL.md")
    keys = frozenset(k for k in (fm, folder.name) if k)
    files: list[str] = []
    if list_files:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder)
            if ".git" in rel.parts or SWAP_MARK in p.name or not p.is_file():
                continue
            if any(p.is_relative_to(s) for s in skip):
                continue
            files.append(rel.as_posix())
            if len(files) > _MAX_FILES:
                raise GateError(f"skill folder {folder} has more than {_MAX_FILES} files",
                                hint="is it the right path?")
    rel_dir = folder.relative_to(root).as_posix()
    return SkillDir(fm or folder.name, keys, "" if rel_dir == "." else rel_dir, tuple(files))


def read_layout(path: Path, *, what: str, list_files: bool) -> Layout:
    """The skills and memory files at ``path`` (a folder or one file); GateError when none."""
    if not path.exists():
        raise GateError(f"{what} {path} does not exist")
    if path.is_file():
        if path.name == "SKILL.md":
            one = _skill(path.parent, path.parent, list_files=False)
            only = SkillDir(one.name, one.keys, "", ("SKILL.md",))
            return Layout("skill_file", path.parent, (only,), ())
        if path.name in MEMORY_FILES:
            return Layout("memory_file", path.parent, (), (path.name,))
        raise GateError(f"{what} {path} is not SKILL.md, CLAUDE.md or AGENTS.md",
                        hint="pass a skill folder, a folder of skills, or one of those files")
    subs = []
    if (path / "skills").is_dir():
        subs = [d for d in sorted((path / "skills").iterdir()) if (d / "SKILL.md").is_file()]
    skills: list[SkillDir] = []
    if (path / "SKILL.md").is_file():
        kind: Kind = "skill_folder"
        skills.append(_skill(path, path, list_files=list_files, skip=tuple(subs)))
    else:
        kind = "skills_folder"
        subs += [d for d in sorted(path.iterdir())
                 if d.name != "skills" and (d / "SKILL.md").is_file()]
    skills += [_skill(path, d, list_files=list_files) for d in subs]
    memory = tuple(m for m in MEMORY_FILES if (path / m).is_file())
    if not skills and not memory and what == "candidate":
        raise GateError(f"candidate {path} holds no SKILL.md, skills/<name>/SKILL.md, "
                        "<name>/SKILL.md, CLAUDE.md or AGENTS.md")
    return Layout(kind, path, tuple(skills), memory)


def _join(*parts: str) -> str:
    return PurePosixPath(*[p for p in parts if p]).as_posix()


def _pair_skills(cand: Layout, live: Layout, live_arg: Path) -> list[tuple[SkillDir, str]]:
    """Each candidate skill with the live folder (relative to the live root) it goes to."""
    names = ", ".join(s.name for s in cand.skills)
    if live.kind == "memory_file":
        raise GateError(f"the candidate has skills ({names}) but --live {live_arg} is a memory "
                        "file", hint="pass --live the folder that holds the live skills")
    if live.kind in ("skill_folder", "skill_file") and len(live.skills) == 1:
        if len(cand.skills) > 1:
            raise GateError(f"the candidate has {len(cand.skills)} skills ({names}) but --live "
                            f"{live_arg} is one skill",
                            hint="pass --live the folder that holds all of them")
        return [(cand.skills[0], live.skills[0].rel)]
    pairs: list[tuple[SkillDir, str]] = []
    for c in cand.skills:
        hits = [s for s in live.skills if s.keys & c.keys]
        if len(hits) > 1:
            raise GateError(f"candidate skill {c.name!r} matches {len(hits)} live skills in "
                            f"{live_arg} ({', '.join(s.rel for s in hits)})",
                            hint="pass --live the folder of the one skill it replaces")
        if hits:
            pairs.append((c, hits[0].rel))
        elif not live.skills:  # adopt replaces live skills; it does not plant new ones
            raise GateError(f"--live {live_arg} holds no skill (no SKILL.md, skills/<name>/"
                            f"SKILL.md or <name>/SKILL.md) for candidate skill {c.name!r}",
                            hint="pass --live the live skill's folder or its SKILL.md")
        else:
            known = ", ".join(s.name for s in live.skills)
            raise GateError(f"candidate skill {c.name!r} matches no live skill in {live_arg} "
                            f"(it has: {known})",
                            hint="pass --live the folder of the skill it replaces")
    dirs = [d for _, d in pairs]
    dup = sorted({d for d in dirs if dirs.count(d) > 1})
    if dup:
        raise GateError(f"two candidate skills map onto the same live skill folder {dup[0] or '.'}",
                        hint="pass --live the folder of each skill separately")
    return pairs


def _memory_targets(cand: Layout, live: Layout, live_arg: Path) -> dict[str, str]:
    """Candidate memory file -> live path. CLAUDE.md and AGENTS.md stand in for each other
    when each side has exactly one of them."""
    if not cand.memory:
        return {}
    if live.kind == "skill_file":
        raise GateError(f"the candidate has {', '.join(cand.memory)} but --live {live_arg} is a "
                        "SKILL.md file", hint="pass --live the folder that holds both")
    if len(cand.memory) == 1 and len(live.memory) == 1:
        return {cand.memory[0]: live.memory[0]}
    out: dict[str, str] = {}
    for m in cand.memory:
        if m in live.memory or live.kind == "skills_folder":
            out[m] = m
        elif live.kind == "memory_file":
            raise GateError(f"the candidate has {' and '.join(cand.memory)} but --live {live_arg} "
                            f"is one memory file", hint="pass --live the folder that holds them")
        else:  # a skill folder without it: a new file there would become part of the skill
            out[m] = m  # allowed only when the candidate's skill itself carries the same file
    return out


def map_files(cand: Layout, live: Layout, live_arg: Path) -> list[Mapped]:
    """Every candidate file with its live target; GateError (one line) when ambiguous."""
    mapped: dict[str, Mapped] = {}

    def put(m: Mapped) -> None:
        old = mapped.get(m.target)
        if old is not None and old.source_path.read_bytes() != m.source_path.read_bytes():
            raise GateError(f"candidate files {old.source} and {m.source} both map to "
                            f"{m.target} in {live_arg} with different contents",
                            hint="make them equal or drop one from the candidate")
        mapped.setdefault(m.target, m)

    for c, live_dir in _pair_skills(cand, live, live_arg) if cand.skills else []:
        for rel in c.files:
            if live.kind == "skill_file" and rel != "SKILL.md":
                raise GateError(f"--live {live_arg} is a single SKILL.md but the candidate skill "
                                f"{c.name!r} also has {rel}", hint="pass --live the skill's folder")
            put(Mapped(_join(live_dir, rel), _join(c.rel, rel), cand.root / c.rel / rel))
    for m, target in _memory_targets(cand, live, live_arg).items():
        if live.kind == "skill_folder" and target not in live.memory and target not in mapped:
            raise GateError(f"the candidate has {m} but the live skill folder {live_arg} has none "
                            "(a new one there would become a file of the skill)",
                            hint=f"pass --live the folder or file where {m} belongs")
        put(Mapped(target, m, cand.root / m))
    return sorted(mapped.values(), key=lambda m: m.target)
