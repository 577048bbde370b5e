"""The CLIs run the way headless peers run them, as agent profiles for the bench's comparison.

Peers (Harbor and Terminal-Bench's installed agents) start one fresh container per trial and
type ``claude -p PROMPT`` / ``codex exec PROMPT`` into a shell, then wait for the command to
end. These profiles do exactly that through the harness's own trial pipeline (the run is
made with ``fresh_sandbox``), so the comparison keeps everything else equal: the same image,
task, scripted Gateway, checks and transcript parser. The shell's own end marker is the
completion signal (``completion="shell"``), as for the oracle agent.

Loaded by name ``headless:HeadlessClaude`` / ``headless:HeadlessCodex`` with ``bench/`` on
the import path (it is when ``bench/scaling.py`` runs).
"""

from __future__ import annotations

import dataclasses
import shlex

from controllers.profiles.base import LaunchContext, LaunchSpec, PromptSource
from controllers.profiles.claude import BUN_START_LEVERS, ClaudeProfile
from controllers.profiles.claude import SPEC as CLAUDE
from controllers.profiles.codex import SPEC as CODEX
from controllers.profiles.codex import CodexProfile
from controllers.sandbox.base import Sandbox

_SHELL = {"idle": (r"^\$\s*$",), "busy": (), "dialogs": (), "blocking_hints": (), "menus": (),
          "completion": "shell"}


def _shell(ctx: LaunchContext, launch: LaunchSpec) -> LaunchSpec:
    """A plain bash in the pane with the CLI's environment, so the typed command inherits it."""
    env = {**launch.env, "PS1": "$ "}
    return LaunchSpec(["bash", "--noprofile", "--norc"], env, ctx.workdir)


class HeadlessClaude(ClaudeProfile):
    """``claude -p`` per prompt (print mode: no TUI, exits when the turn is done)."""

    spec = dataclasses.replace(CLAUDE, **_SHELL)  # type: ignore[arg-type]

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        self._model, self._bypass = ctx.model, ctx.permission_mode == "bypass"
        launch = super().launch(ctx)
        # peers run the CLI as shipped: this project's engine settings for claude are its own
        env = {k: v for k, v in launch.env.items() if k not in BUN_START_LEVERS}
        return _shell(ctx, LaunchSpec(launch.argv, env, launch.cwd))

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]:
        flags = ["--model", self._model] + (["--dangerously-skip-permissions"] if self._bypass else [])
        return [shlex.join(["claude", "-p", t, *flags]) for t in task.prompt_turns("claude")]


class HeadlessCodex(CodexProfile):
    """``codex exec`` per prompt (non-interactive: no TUI, exits when the turn is done)."""

    spec = dataclasses.replace(CODEX, **_SHELL)  # type: ignore[arg-type]

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        return _shell(ctx, super().launch(ctx))

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]:
        return [shlex.join(["codex", "exec", "--skip-git-repo-check", t])
                for t in task.prompt_turns("codex")]
