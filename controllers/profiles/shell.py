"""Shell "agents": a plain bash in the pane, for oracle and no-op runs.

``oracle`` types the task's reference solution (Terminal-Bench ``solution.sh``) into the
pane and waits for it to finish; ``noop`` does nothing. A suite whose oracle run does not
pass, or whose no-op run passes, has broken checks: both are how task authors test tasks.
"""

from __future__ import annotations

from controllers.profiles.base import (
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileProfile

ORACLE_PATH = "/harness/oracle.sh"


def _spec(name: str) -> ProfileSpec:
    return ProfileSpec(
        name=name,
        image="base",
        binary="bash",
        args=("--noprofile", "--norc"),
        env={"PS1": "$ ", "TERM": "xterm-256color"},
        idle=(r"^\$\s*$",),  # capture_pane drops the trailing space of "$ "
        busy=(),
        dialogs=(),
        blocking_hints=(),
        memory_file="AGENTS.md",
        user_skills_dir="~/.agents/skills",
        project_skills_dir=".agents/skills",
        transcript_glob="",
    )


class ShellProfile(FileProfile):
    """Bash in the pane; ``needs_gateway`` False (no model is asked anything)."""

    needs_gateway = False

    def __init__(self, name: str) -> None:
        self.spec = _spec(name)

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        return LaunchSpec([self.spec.binary, *self.spec.args], self.harness_env(ctx), ctx.workdir)
