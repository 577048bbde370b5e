"""Importers from other task formats into ``harness.task/v1`` suites.

An explicit registry (kind -> ``module:function``) imported lazily, so ``harness tasks
import`` lists the known kinds on a miss and one broken importer cannot break the others.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.registry import Registry
from harness.tasks.importers.common import ImportResult, ensure_reviewed

IMPORTERS: Registry[Callable[..., ImportResult]] = Registry("import kind", {
    "skillopt-sleep": "harness.tasks.importers.skillopt_sleep:import_skillopt_sleep",
    "gbrain": "harness.tasks.importers.gbrain:import_gbrain",
    "terminal-bench": "harness.tasks.importers.terminal_bench:import_terminal_bench",
}, allow_path=False)


def get_importer(kind: str) -> Callable[..., ImportResult]:
    """The import function for ``kind``; a miss names the known kinds."""
    return IMPORTERS.load(kind)

__all__ = ["IMPORTERS", "ImportResult", "ensure_reviewed", "get_importer"]
