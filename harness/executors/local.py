"""The local executor: the runner's own thread workers on this machine's engine (the
behaviour every run had before there were executors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.runner.run import Runner
    from harness.runner.trial import TrialOutcome, TrialPlan


class LocalExecutor:
    name = "local"

    def run(self, runner: Runner, todo: list[TrialPlan]) -> list[TrialOutcome]:
        return runner.run_local(todo)
