"""Executors by name: ``local`` (thread workers on this machine, the default) and ``ray``
(the Docker hosts of a Ray cluster; needs the ``ray`` extra). Imported lazily: a local run
never imports Ray."""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.executors.base import Executor

NAMES: tuple[str, ...] = ("local", "ray")
DEFAULT = "local"


def get_executor(name: str, **options: Any) -> Executor:
    """A new executor ``name``; ``options`` are the executor's own (``address`` for ray)."""
    if name == "local":
        from harness.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from harness.executors.ray_exec import RayExecutor

        return RayExecutor(**options)
    raise ConfigError(f"unknown executor {name!r}", hint=f"known: {', '.join(NAMES)}")


__all__ = ["DEFAULT", "NAMES", "Executor", "get_executor"]
