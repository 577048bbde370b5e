"""The executor seam: where a run's trials are scheduled, once the driver has planned them.

Why a seam above the sandbox provider: a provider makes sandboxes on *one* engine; an
executor decides *which machine* runs each trial. ``local`` is the thread workers of one
process (one engine); ``ray`` spreads trials over the Docker hosts of a Ray cluster. Either
way the driver keeps what it owns: the store, the artifacts tree, the progress display,
resume and the gate. An executor reports each finished trial through ``runner._record``
(one store row, one ``trials.jsonl`` line), so a run's files are the same whoever ran it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.runner.run import Runner
    from harness.runner.trial import TrialOutcome, TrialPlan


class Executor(Protocol):
    """Runs the plans ``todo`` of ``runner``'s run; returns this invocation's outcomes."""

    name: str

    def run(self, runner: Runner, todo: list[TrialPlan]) -> list[TrialOutcome]: ...


__all__ = ["Executor"]
