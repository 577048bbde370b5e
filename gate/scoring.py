"""Trial scores: hard, soft and their mix, plus the task-only paired bootstrap.

- hard: 1 when every check passed, else 0 (Terminal-Bench's "resolved");
- soft: the weighted fraction of checks passed (gbrain-evals' rule-judge score);
- mixed: ``(1 - w) * hard + w * soft``; ``w`` defaults to 0.5.

A trial that timed out gets hard 0 whatever its checks say (it did not finish) but keeps
its soft partial credit. A trial with no checks is scored by its status alone. An
unscorable trial (agent_error, infra_error, or any check that could not be judged) has no
score at all: ``None``, never 0, so machinery failures cannot pose as regressions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from gate.models import CheckResult, Status, TrialRecord

DEFAULT_SOFT_WEIGHT = 0.5


def hard_score(results: Sequence[CheckResult]) -> float:
    return 1.0 if all(r.passed for r in results) else 0.0


def soft_score(results: Sequence[CheckResult]) -> float:
    """Weighted fraction passed; all-zero weights fall back to an unweighted fraction."""
    if not results:
        return 1.0
    total = sum(r.weight for r in results)
    if total <= 0:
        return sum(1.0 for r in results if r.passed) / len(results)
    return sum(r.weight for r in results if r.passed) / total


def mixed_score(hard: float, soft: float, w: float = DEFAULT_SOFT_WEIGHT) -> float:
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"soft weight must be within [0, 1], got {w}")
    return (1.0 - w) * hard + w * soft


def outcome_status(
    results: Sequence[CheckResult],
    *,
    timed_out: bool = False,
    agent_error: bool = False,
    infra_error: bool = False,
) -> Status:
    """The status a runner records: machinery failures first, then the checks' verdict.

    Infra beats agent beats timeout, because the less the agent is to blame, the less the
    trial may count against it.
    """
    if infra_error:
        return "infra_error"
    if agent_error:
        return "agent_error"
    if timed_out:
        return "timeout"
    return "passed" if all(r.passed for r in results) else "failed"


@dataclass(frozen=True)
class TrialScore:
    hard: float
    soft: float
    mixed: float


def score_trial(trial: TrialRecord, w: float = DEFAULT_SOFT_WEIGHT) -> TrialScore | None:
    """The trial's scores, or None when it is unscorable."""
    if not trial.scorable:
        return None
    if not trial.check_results:
        h = 1.0 if trial.status == "passed" else 0.0
        return TrialScore(h, h, mixed_score(h, h, w))
    soft = soft_score(trial.check_results)
    hard = 0.0 if trial.status == "timeout" else hard_score(trial.check_results)
    return TrialScore(hard, soft, mixed_score(hard, soft, w))


@dataclass(frozen=True)
class BootstrapCI:
    mean: float
    low: float
    high: float
    n: int


def paired_bootstrap(
    deltas: Sequence[float], *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> BootstrapCI:
    """Percentile CI of the mean per-task delta, resampling tasks with replacement.

    The gate itself uses :func:`gate.stats.two_level_bootstrap`, which also resamples the
    attempts within each task and whose interval always spans a task-only one like this.

    Pairing is by task: each delta is (candidate mean - baseline mean) on one task, so a
    task that is hard for both variants does not widen the interval. A fixed ``seed`` makes
    the same run give the same verdict (reproducible benchmark runs).
    """
    if not deltas:
        raise ValueError("paired_bootstrap needs at least one task delta")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(deltas)
    mean = sum(deltas) / n
    rng = random.Random(seed)
    means = sorted(sum(deltas[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_boot))
    alpha = (1.0 - confidence) / 2.0
    lo_i = min(n_boot - 1, max(0, int(alpha * n_boot)))
    hi_i = min(n_boot - 1, max(0, int((1.0 - alpha) * n_boot) - 1))
    low, high = means[lo_i], means[hi_i]
    # Float summation order differs between the mean and the resamples; keep low <= mean <= high.
    return BootstrapCI(mean=mean, low=min(low, mean), high=max(high, mean), n=n)
