"""What every CLI profile does the same way: the completion hook, and installing a Variant.

A Variant's skills go to the profile's user skill dir (``~/.claude/skills/<name>/``,
``~/.agents/skills/<name>/``); its memory files (CLAUDE.md / AGENTS.md) go into the
workspace root. A variant with a single memory file is installed under the name this CLI
reads, so a CLAUDE.md candidate can be replayed on codex as AGENTS.md and back.
"""

from __future__ import annotations

import posixpath

from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    HOOK_SCRIPT,
    STATE_DIR,
    ProfileSpec,
    Variant,
)
from controllers.sandbox.base import Sandbox
from harness.errors import SandboxError


def expand_home(path: str) -> str:
    return AGENT_HOME + path[1:] if path.startswith("~") else path


FileMap = dict[str, tuple[bytes | str, int, str]]
WRITE_ROOTS = (AGENT_HOME, "/opt/harness/bin", "/harness", "/harness/tools")


def hook_files() -> FileMap:
    """The completion hook (root-owned, on PATH) and the agent's empty state dir."""
    return {HOOK_PATH: (HOOK_SCRIPT, 0o755, "root"), f"{STATE_DIR}/events.jsonl": (b"", 0o644, "agent")}


def variant_file_map(spec: ProfileSpec, variant: Variant, workdir: str) -> FileMap:
    """Where ``spec``'s CLI reads the variant's skills and memory files, as data."""
    out: FileMap = {}
    skills_root = expand_home(spec.user_skills_dir)
    for skill in variant.skills:
        for rel, data in skill.files.items():
            out[posixpath.join(skills_root, skill.name, rel)] = (data, 0o644, "agent")
    memory = dict(variant.memory)
    if len(memory) == 1:
        memory = {spec.memory_file: next(iter(memory.values()))}
    for name, data in memory.items():
        out[posixpath.join(workdir, name)] = (data, 0o644, "agent")
    return out


def write_map(box: Sandbox, files: FileMap, workdir: str) -> None:
    """Write a file map: in one engine call when the sandbox can, else file by file."""
    batch = getattr(box, "write_files", None)
    if batch is not None:
        batch(files, roots=(*WRITE_ROOTS, workdir))
        return
    for path, (data, mode, user) in files.items():
        box.write_file(path, data, mode=mode, user=user)


def install_hook(box: Sandbox) -> None:
    """The completion hook and an empty state dir (the runner writes these via ``files()``)."""
    write_map(box, hook_files(), box.workdir)


def install_variant(spec: ProfileSpec, box: Sandbox, variant: Variant, workdir: str) -> list[str]:
    """Replace the skills dir's content with the variant's files; returns the paths written."""
    skills_root = expand_home(spec.user_skills_dir)
    r = box.exec(["sh", "-c", f'rm -rf "{skills_root}" && mkdir -p "{skills_root}"'])
    if not r.ok:
        raise SandboxError(f"cannot reset {skills_root}: {r.describe()}")
    files = variant_file_map(spec, variant, workdir)
    write_map(box, files, workdir)
    return sorted(files)
