"""Shell "agents": a plain bash in the pane, for oracle and no-op runs.

``oracle`` types the task's reference solution (Terminal-Bench ``solution.sh``) into the
pane and waits for it to finish; ``noop`` does nothing. A suite whose oracle run does not
pass, or whose no-op run passes, has broken checks: both are how task authors test tasks.
They are agents like the others (``AgentProfile``): no wire API (no Gateway), the shell's
own end marker as the completion signal, and their turns chosen here.
"""

from __future__ import annotations

from controllers.profiles.base import (
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
    PromptSource,
)
from controllers.profiles.common import FileProfile
from controllers.sandbox.base import Sandbox, SupportsHostPath
from harness.errors import AgentError

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
        wire_api=None,
        completion="shell",
    )


class ShellProfile(FileProfile):
    """Bash in the pane; ``needs_gateway`` False (no wire API: no model is asked anything)."""

    def __init__(self, name: str = "shell") -> None:
        self.spec = _spec(name)

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        return LaunchSpec([self.spec.binary, *self.spec.args], self.harness_env(ctx), ctx.workdir)


class OracleProfile(ShellProfile):
    """Types the task's reference solution as its one turn."""

    def __init__(self) -> None:
        super().__init__("oracle")

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]:
        script = task.oracle_script()
        if script is None:
            raise AgentError(f"task {getattr(task, 'id', '?')} has no oracle (solution) script to type",
                             hint="add `oracle: solution.sh` to the task, or run another agent")
        box.write_file(ORACLE_PATH, script, mode=0o755, user="root")  # not the agent's to change
        # a sandbox that keeps the harness's files elsewhere (the local one) names their place
        return [f"bash {box.host_path(ORACLE_PATH) if isinstance(box, SupportsHostPath) else ORACLE_PATH}"]


class NoopProfile(ShellProfile):
    """Types nothing: the checks see the untouched workspace."""

    def __init__(self) -> None:
        super().__init__("noop")

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]:
        return []
