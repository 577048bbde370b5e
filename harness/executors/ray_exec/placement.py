"""Which plan a node with a free slot takes next: warm reuse first, then spread.

The runner's ``_AffinityQueue`` idea across hosts: a task's attempts go to the node that
holds that task's idle warm sandbox (a reset instead of a new container); a node with no
such task claims the task with the most plans left that no node works on, so nodes spread
over tasks; else any task (warm reuse is worth a wait only while its holder has room).
Infra retries come back with a time before which they are not taken (the backoff).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.runner.trial import TrialPlan


class Placement:
    def __init__(self, plans: list[TrialPlan]) -> None:
        self._by_task: dict[str, list[TrialPlan]] = {}
        for p in sorted(plans, key=lambda p: (p.task.id, p.variant.name, p.attempt)):
            self._by_task.setdefault(p.task.id, []).append(p)
        self._later: list[tuple[float, TrialPlan]] = []
        self.warm: dict[str, set[str]] = {}      # node -> tasks it holds an idle warm sandbox of
        self.running: dict[str, int] = {}        # task -> trials of it in flight anywhere

    def __len__(self) -> int:
        return sum(len(ps) for ps in self._by_task.values()) + len(self._later)

    def push(self, plan: TrialPlan, not_before: float = 0.0) -> None:
        """A plan back (an infra retry): first of its task once ``not_before`` passed."""
        self._later.append((not_before, plan))

    def next_due(self) -> float | None:
        return min((t for t, _ in self._later), default=None)

    def _release(self) -> None:
        now = time.monotonic()
        due = [p for t, p in self._later if t <= now]
        self._later = [(t, p) for t, p in self._later if t > now]
        for p in due:
            self._by_task.setdefault(p.task.id, []).insert(0, p)

    def take_warm(self, node: str) -> TrialPlan | None:
        """A plan of a task ``node`` holds warm, or None."""
        self._release()
        for task in sorted(self.warm.get(node, ())):
            if self._by_task.get(task):
                return self._claim(task, node)
        return None

    def take(self, node: str) -> TrialPlan | None:
        """Warm first; else the biggest task nobody runs or holds; else the biggest one."""
        plan = self.take_warm(node)
        if plan is not None:
            return plan
        left = [(t, ps) for t, ps in self._by_task.items() if ps]
        if not left:
            return None
        held = {t for n, ts in self.warm.items() if n != node for t in ts}
        free = [x for x in left if not self.running.get(x[0]) and x[0] not in held] or left
        task, _ = max(free, key=lambda x: len(x[1]))
        return self._claim(task, node)

    def _claim(self, task: str, node: str) -> TrialPlan:
        self.running[task] = self.running.get(task, 0) + 1
        self.warm.get(node, set()).discard(task)
        return self._by_task[task].pop(0)

    def finished(self, plan: TrialPlan) -> None:
        self.running[plan.task.id] = max(0, self.running.get(plan.task.id, 1) - 1)

    def node_gone(self, node: str) -> None:
        self.warm.pop(node, None)
