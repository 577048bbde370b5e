"""Sandbox providers by name: ``docker`` (the default) and ``local``.

Adding one (Kubernetes, a Ray node) is a module with a ``SandboxProvider`` class (derive
from ``ProviderBase`` for the optional abilities) and one line in ``REGISTRY``; or pass
``module:Class`` as the name, for a provider that lives outside this package. Entries are
imported lazily, so the runner does not load Docker's SDK to run locally.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from harness.errors import ConfigError
from harness.providers.base import ProviderBase, SandboxProvider, SandboxRequest, TaskSandbox

REGISTRY: dict[str, str] = {
    "docker": "harness.providers.docker:DockerProvider",
    "local": "harness.providers.local:LocalProvider",
}
DEFAULT = "docker"


def names() -> tuple[str, ...]:
    """The registered provider names (for help texts)."""
    return tuple(REGISTRY)


def get_provider(name: str) -> SandboxProvider:
    """A new provider ``name`` (a registered name or ``module:Class``); a miss lists the
    known names."""
    target = REGISTRY.get(name, name if ":" in name else None)
    if target is None:
        raise ConfigError(f"unknown sandbox provider {name!r}",
                          hint=f"known: {', '.join(REGISTRY)} (or module:Class)")
    mod_name, _, cls_name = target.partition(":")
    try:
        provider = getattr(importlib.import_module(mod_name), cls_name)()
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"sandbox provider {target!r} cannot be loaded: {exc}") from exc
    missing = [m for m in _MEMBERS if not callable(getattr(provider, m, None))]
    if missing:
        raise ConfigError(f"sandbox provider {target!r} lacks {', '.join(missing)}",
                          hint="derive it from harness.providers.base.ProviderBase")
    return provider  # type: ignore[no-any-return]


_MEMBERS = ("start", "ensure_image", "task_images", "create", "sweep", "describe", "controller", "keep",
            "sweep_notes", "close")

__all__ = ["DEFAULT", "REGISTRY", "ProviderBase", "SandboxProvider", "SandboxRequest", "TaskSandbox",
           "get_provider", "names"]

if TYPE_CHECKING:  # conformance, checked by mypy: both providers and their sandboxes fit the seam
    from harness.providers.docker import DockerProvider
    from harness.providers.local import LocalProvider, LocalTaskSandbox
    from harness.providers.warm import WarmSandbox

    _docker: SandboxProvider = DockerProvider()
    _local: SandboxProvider = LocalProvider()

    def _fits(w: WarmSandbox, loc: LocalTaskSandbox) -> tuple[TaskSandbox, TaskSandbox]:
        return w, loc
