"""Mining: turn harvested session digests into a ``harness.task/v1`` suite that replays the
user's own past work at the repo state each session started from.

Why its own package: harvest reads what happened; mining decides what a task is (grouping),
what counts as success (checks from evidence only, never a model unless asked), how tasks
split, and writes the suite. Each step is a small module so the nightly loop can reuse it.
"""

from harness.mine.run import MineOptions, MineReport, mine

__all__ = ["MineOptions", "MineReport", "mine"]
