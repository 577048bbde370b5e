"""Skill files in two layouts: as they sit in the project, and as a run installs them.

Why two: the user names targets by where they live in the project (``.claude/skills/fixer``,
``CLAUDE.md``), candidates (a folder, a git ref, the proposer's output) come laid out the same
way, and ``stage`` / ``adopt`` map them back onto those live paths. A run wants a variant
folder instead (``skills/<name>/...``, ``CLAUDE.md``, ``AGENTS.md``; see
:mod:`harness.runner.variants`). Every candidate is first completed from the live files (a
candidate that only changes CLAUDE.md still has the live skill), so the replay compares
exactly what adopt would leave behind.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from harness.errors import ConfigError

GIT_TIMEOUT_SEC = 60


def _copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        shutil.rmtree(dst) if dst.is_dir() and not dst.is_symlink() else dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git"))
    else:
        shutil.copy2(src, dst)


def complete(project: Path, targets: list[str], given: Path | None, dest: Path) -> list[str]:
    """``dest`` := the live targets, each replaced by ``given``'s copy where it has one.

    Returns the targets ``given`` supplied (empty: the candidate changes nothing)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    supplied = []
    for t in targets:
        src = given / t if given is not None else None
        if src is not None and src.exists():
            _copy(src, dest / t)
            supplied.append(t)
        elif (project / t).exists():
            _copy(project / t, dest / t)
    return supplied


def to_variant(tree: Path, targets: list[str], out: Path) -> Path:
    """A variant folder for ``harness run`` from a project-layout ``tree``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    used: set[str] = set()
    for t in targets:
        src = tree / t
        if not src.exists():
            continue
        if src.is_dir() or src.name == "SKILL.md":
            folder = src if src.is_dir() else src.parent
            name, n = folder.name or "skill", 2
            while name in used:
                name, n = f"{folder.name}-{n}", n + 1
            used.add(name)
            _copy(src, out / "skills" / name / ("" if src.is_dir() else "SKILL.md"))
        else:
            _copy(src, out / src.name)
    return out


def tree_digest(tree: Path, targets: list[str]) -> str:
    """One hash over the targets' files (names and bytes): equal trees, equal digests."""
    h = hashlib.sha256()
    for t in targets:
        p = tree / t
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p] if p.is_file() else []
        for f in files:
            h.update(f.relative_to(tree).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _git(project: Path, *args: str) -> bytes:
    try:
        r = subprocess.run(["git", "-C", str(project), *args], capture_output=True,
                           timeout=GIT_TIMEOUT_SEC, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"git {' '.join(args[:2])} in {project} failed: {exc}") from exc
    if r.returncode != 0:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"git {' '.join(args[:2])} in {project}: {msg[-1] if msg else 'failed'}",
                          hint="name a branch, tag or commit of the project's repo")
    return r.stdout


def from_git(project: Path, ref: str, targets: list[str], dest: Path) -> None:
    """The targets' files as they are at ``ref``, read with ``git ls-tree`` / ``git show``
    (the user's checkout, index and HEAD are never touched)."""
    commit = _git(project, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
    sha = commit.decode().strip()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for t in targets:  # paths relative to the project folder (which may sit inside the repo)
        listing = _git(project, "ls-tree", "-r", "-z", "--name-only", sha, "--", t)
        for rel in filter(None, listing.decode().split("\0")):
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(_git(project, "show", f"{sha}:./{rel}"))
