"""Importers from other task formats into ``harness.task/v1`` suites.

An explicit registry (kind -> ``module:function``) imported lazily, so ``harness tasks
import`` lists the known kinds on a miss and one broken importer cannot break the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from harness.errors import ConfigError
from harness.tasks.importers.common import ImportResult, ensure_reviewed

IMPORTERS: dict[str, str] = {
    "skillopt-sleep": "harness.tasks.importers.skillopt_sleep:import_skillopt_sleep",
    "gbrain": "harness.tasks.importers.gbrain:import_gbrain",
    "terminal-bench": "harness.tasks.importers.terminal_bench:import_terminal_bench",
}


def get_importer(kind: str) -> Callable[..., ImportResult]:
    """The import function for ``kind``; a miss names the known kinds."""
    target = IMPORTERS.get(kind)
    if target is None:
        raise ConfigError(f"unknown import kind {kind!r}",
                          hint=f"known: {', '.join(sorted(IMPORTERS))}")
    module, _, func = target.partition(":")
    fn: Any = getattr(importlib.import_module(module), func)
    return fn  # type: ignore[no-any-return]


__all__ = ["IMPORTERS", "ImportResult", "ensure_reviewed", "get_importer"]
