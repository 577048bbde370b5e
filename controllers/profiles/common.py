"""What every CLI profile does the same way: the completion hook, and installing a Variant.

A Variant's skills go to the profile's user skill dir (``~/.claude/skills/<name>/``,
``~/.agents/skills/<name>/``); its memory files (CLAUDE.md / AGENTS.md) go into the
workspace root. A variant with a single memory file is installed under the name this CLI
reads, so a CLAUDE.md candidate can be replayed on codex as AGENTS.md and back.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    HOOK_SCRIPT,
    STATE_DIR,
    LaunchContext,
    ProfileSpec,
    PromptSource,
    Variant,
)
from controllers.sandbox.base import Sandbox
from harness.episode import Episode
from harness.errors import SandboxError


def wait_levers() -> bool:
    """Whether the issue-14 levers that make a trial cheap are on (the CLIs' reduced motion,
    the harness's slower polling while the model is thinking, claude's engine settings for a
    cheaper start). On unless
    ``HARNESS_WAIT_LEVERS=off``: the switch exists so ``bench/scaling.py --levers off`` can
    measure the cost they remove on the same machine."""
    return os.environ.get("HARNESS_WAIT_LEVERS", "on") != "off"


def expand_home(path: str) -> str:
    return AGENT_HOME + path[1:] if path.startswith("~") else path


FileMap = dict[str, tuple[bytes | str, int, str]]
#: under AGENT_HOME, what any agent may leave behind (skills, hook state, caches)
COMMON_HOME_STATE = (".agents", ".harness", ".cache", ".config", ".local", ".npm")
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


def install_variant(spec: ProfileSpec, box: Sandbox, variant: Variant, workdir: str) -> list[str]:
    """Replace the skills dir's content with the variant's files; returns the paths written."""
    skills_root = expand_home(spec.user_skills_dir)
    r = box.exec(["sh", "-c", f'rm -rf "{skills_root}" && mkdir -p "{skills_root}"'])
    if not r.ok:
        raise SandboxError(f"cannot reset {skills_root}: {r.describe()}")
    files = variant_file_map(spec, variant, workdir)
    write_map(box, files, workdir)
    return sorted(files)


class FileProfile:
    """What every profile does alike; a CLI adds its ``config_files``, ``launch`` and
    ``parse_transcript``.

    ``files()`` is the whole per-trial file set as data (the runner writes it in one engine
    call); ``configure`` / ``install_variant`` write parts of it for callers that drive a
    session by hand (tests, benchmarks).
    """

    spec: ProfileSpec

    @property
    def needs_gateway(self) -> bool:
        """A CLI that speaks a wire API asks the Gateway; a shell agent asks no model."""
        return self.spec.wire_api is not None

    @property
    def home_state(self) -> tuple[str, ...]:
        """Absolute paths the warm reset wipes between trials: the CLI's own and the shared ones."""
        names = dict.fromkeys((*self.spec.home_state, *COMMON_HOME_STATE))
        return tuple(f"{AGENT_HOME}/{n}" for n in names)

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]:
        """The user messages to type: the task's prompt(s), with this agent's override."""
        return task.prompt_turns(self.spec.name)

    def parse_transcript(self, path: Path) -> Episode:
        """The Episode of the CLI's session file; an agent without one gives an empty Episode."""
        return Episode(agent=self.spec.name)

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {}

    def files(self, ctx: LaunchContext, variant: Variant, workdir: str) -> FileMap:
        return {**hook_files(), **self.config_files(ctx), **variant_file_map(self.spec, variant, workdir)}

    def configure(self, box: Sandbox, ctx: LaunchContext) -> None:
        write_map(box, self.files(ctx, Variant("none"), ctx.workdir), ctx.workdir)

    def install_variant(self, box: Sandbox, variant: Variant, workdir: str) -> list[str]:
        return install_variant(self.spec, box, variant, workdir)

    def harness_env(self, ctx: LaunchContext) -> dict[str, str]:
        """The spec's env plus what the completion hook needs (socket, state dir)."""
        return {**self.spec.env, "HOME": AGENT_HOME, "HARNESS_TMUX_SOCKET": ctx.tmux_socket,
                "HARNESS_STATE_DIR": STATE_DIR}
