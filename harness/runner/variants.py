"""Loading a Variant (a set of skill / memory files) from what a user passes as NAME=PATH.

Accepted PATH shapes, checked before any container starts:
- a folder with ``SKILL.md`` (one skill; its name from the frontmatter ``name:``, else the
  folder name);
- a folder with ``skills/<name>/SKILL.md`` and/or ``CLAUDE.md`` / ``AGENTS.md`` at its top;
- a single ``SKILL.md``, ``CLAUDE.md`` or ``AGENTS.md`` file;
- ``none``, or an empty folder: no files at all (the agent as it comes; a benchmark run).
"""

from __future__ import annotations

import re
from pathlib import Path

from controllers.profiles.base import Skill, Variant
from harness.errors import ConfigError

MEMORY_FILES = ("CLAUDE.md", "AGENTS.md")
_NAME = re.compile(r"^name:\s*['\"]?([A-Za-z0-9._-]+)", re.MULTILINE)
_MAX_FILES = 200


def _skill_name(skill_md: Path, fallback: str) -> str:
    text = skill_md.read_text(errors="replace")
    if text.startswith("---"):
        end = text.find("\n---", 3)
        m = _NAME.search(text[: end if end > 0 else 2000])
        if m:
            return m.group(1)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", fallback).strip("-") or "skill"


def _skill_from_dir(d: Path, fallback: str) -> Skill:
    files: dict[str, bytes] = {}
    for f in sorted(d.rglob("*")):
        if f.is_file() and ".git" not in f.parts:
            files[f.relative_to(d).as_posix()] = f.read_bytes()
            if len(files) > _MAX_FILES:
                raise ConfigError(f"skill folder {d} has more than {_MAX_FILES} files; is it the right path?")
    return Skill(_skill_name(d / "SKILL.md", fallback), files)


def load_variant(name: str, path: str | Path) -> Variant:
    """The Variant at ``path``; ConfigError naming the variant when the path is unusable."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
        raise ConfigError(f"variant name {name!r}: use letters, digits, '.', '_' or '-'")
    if str(path).strip().lower() == "none":
        return Variant(name=name, source="none")
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"variant {name}: {p} does not exist", hint="pass --variant NAME=PATH with an existing path")
    if p.is_file():
        if p.name == "SKILL.md":
            return Variant(name, (Skill(_skill_name(p, p.parent.name), {"SKILL.md": p.read_bytes()}),), source=str(p))
        if p.name in MEMORY_FILES:
            return Variant(name, memory={p.name: p.read_bytes()}, source=str(p))
        raise ConfigError(f"variant {name}: {p.name} is not SKILL.md, CLAUDE.md or AGENTS.md")
    if not any(p.iterdir()):
        return Variant(name=name, source=str(p))  # an empty folder: the bare agent
    skills: list[Skill] = []
    if (p / "SKILL.md").is_file():
        skills.append(_skill_from_dir(p, p.name))
    if (p / "skills").is_dir():
        for d in sorted(x for x in (p / "skills").iterdir() if (x / "SKILL.md").is_file()):
            skills.append(_skill_from_dir(d, d.name))
    memory = {m: (p / m).read_bytes() for m in MEMORY_FILES if (p / m).is_file()}
    if not skills and not memory:
        raise ConfigError(
            f"variant {name}: {p} holds no SKILL.md, skills/<name>/SKILL.md, CLAUDE.md or AGENTS.md"
        )
    names = [s.name for s in skills]
    if len(set(names)) != len(names):
        raise ConfigError(f"variant {name}: two skills are named the same ({', '.join(names)})")
    return Variant(name, tuple(skills), memory, source=str(p))


def variant_bytes(v: Variant) -> dict[str, bytes]:
    """Relative path -> bytes, exactly as installed: what the run folder keeps and what
    `harness stage` copies (a binary file in ``references/`` must survive adopt)."""
    out: dict[str, bytes] = {}
    for s in v.skills:
        for rel, data in s.files.items():
            out[f"skills/{s.name}/{rel}"] = data
    out.update(v.memory)
    return out


def variant_files(v: Variant) -> dict[str, str]:
    """Relative path -> text, as the gate's structural check reads them."""
    return {rel: data.decode(errors="replace") for rel, data in variant_bytes(v).items()}
