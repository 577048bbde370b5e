"""Agent profiles: claude, codex, and shell agents (oracle, noop), by name.

An explicit registry (names -> ``module:Class``), imported lazily; a miss lists the known
names; ``module:Class`` is accepted for a user-provided profile.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import ConfigError

REGISTRY: dict[str, str] = {
    "claude": "controllers.profiles.claude:ClaudeProfile",
    "codex": "controllers.profiles.codex:CodexProfile",
    "oracle": "controllers.profiles.shell:ShellProfile",
    "noop": "controllers.profiles.shell:ShellProfile",
}
SHELL_AGENTS = ("oracle", "noop")


def get_profile(name: str) -> Any:
    target = REGISTRY.get(name, name if ":" in name else None)
    if target is None:
        raise ConfigError(f"unknown agent {name!r}", hint=f"known: {', '.join(REGISTRY)} (or module:Class)")
    mod_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"agent profile {target!r} cannot be loaded: {exc}") from exc
    return cls(name) if name in SHELL_AGENTS else cls()
