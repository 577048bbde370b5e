"""Agent profiles: claude, codex, and shell agents (oracle, noop), by name.

An explicit registry (names -> ``module:Class``), imported lazily; a miss lists the known
names; ``module:Class`` is accepted for a user-provided profile.
"""

from __future__ import annotations

from typing import Any

from harness.registry import Registry

REGISTRY: Registry[Any] = Registry("agent", {
    "claude": "controllers.profiles.claude:ClaudeProfile",
    "codex": "controllers.profiles.codex:CodexProfile",
    "oracle": "controllers.profiles.shell:ShellProfile",
    "noop": "controllers.profiles.shell:ShellProfile",
})
SHELL_AGENTS = ("oracle", "noop")


def get_profile(name: str) -> Any:
    cls = REGISTRY.load(name)
    return cls(name) if name in SHELL_AGENTS else cls()
