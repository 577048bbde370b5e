"""The statistics behind the lift rule: a two-level paired bootstrap, Jeffreys intervals, Holm.

Why two levels. A night's evidence is a few tasks x a few attempts of a stochastic model. A
bootstrap over tasks alone treats each task's mean as exact: three tasks that each moved
0.125 -> 1.0 in one attempt give the interval [+0.875, +0.875], as if one attempt of a model
that passes half the time could not have been lucky. :func:`two_level_bootstrap` resamples
tasks, then each sampled task's rate per variant, given that task's attempts.

Why a Beta posterior at the second level, not a plain resample of the attempts: with one
attempt per task, or attempts that all agree, a resample of the attempts has no spread at
all and calls a stochastic model deterministic, the falsely narrow interval above moved from
the first level to the second. So each (task, variant) rate is drawn from its Jeffreys
posterior ``Beta(s + 1/2, k - s + 1/2)``, for ``k`` scorable attempts whose scores sum to ``s``
(mixed scores in [0, 1] count as fractional passes). Its variance, about ``p(1-p)/k``, is what
a resample of ``k`` pass/fail attempts gives, so many attempts shrink it to nothing and the
two-level interval tends to the task-only one; yet it is never zero, so a single pass is read
as what it is (Beta(3/2, 1/2): 95% of its mass above 0.15, not a certain 1.0). Jeffreys is
the standard non-informative prior for a binomial rate, with near-nominal coverage for small
``k``; a score in [0, 1] with mean ``m`` has variance at most ``m(1-m)``, so treating partial
scores as fractional passes can only widen the interval.

Why the reported interval also spans the task-only one. The posterior pulls every rate toward
1/2 (one pass has mean 0.75); that is the honest reading of one attempt, but it also pulls a
varied set of tasks together, and then the two-level interval can come out narrower than the
task-only one at one end. Each level sees a doubt the other misses, so the interval reported
is the hull of both percentile intervals, computed on the same resampled tasks, and the
p-value the larger of the two: never narrower than a task-only bootstrap, wider where one
attempt proves little. As attempts grow, the two coincide. The hull is widened, if need be,
to contain the observed lift, so a report never shows a point estimate outside its interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

EPS = 1e-9
_CF_TINY = 1e-300


def _beta_cf(x: float, a: float, b: float) -> float:
    """Continued fraction of the incomplete beta function, evaluated by modified Lentz."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    f = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _CF_TINY else _CF_TINY
            f *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return f


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularized incomplete beta function I_x(a, b)."""
    if a <= 0 or b <= 0:
        raise ValueError(f"Beta parameters must be positive, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The fraction converges fast only left of the mean; use I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(x, a, b) / a
    return 1.0 - front * _beta_cf(1.0 - x, b, a) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The q-quantile of Beta(a, b), by bisection on :func:`beta_cdf` (monotone, so it cannot
    miss; 60 halvings reach float precision on [0, 1])."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def jeffreys_interval(passes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Equal-tailed Jeffreys interval for a pass rate of ``passes`` out of ``n`` attempts.

    The same posterior the bootstrap draws from, so the per-task table and the lift interval
    tell one story. As usual (Brown, Cai and DasGupta) the bound is pinned to 0 when nothing
    passed and to 1 when everything did.
    """
    if n < 1:
        raise ValueError("a pass-rate interval needs at least one attempt")
    if not 0.0 <= passes <= n:
        raise ValueError(f"passes must be within [0, {n}], got {passes}")
    alpha = 1.0 - confidence
    a, b = passes + 0.5, n - passes + 0.5
    low = 0.0 if passes <= 0 else beta_ppf(alpha / 2.0, a, b)
    high = 1.0 if passes >= n else beta_ppf(1.0 - alpha / 2.0, a, b)
    return low, high


@dataclass(frozen=True)
class PairedTask:
    """One heldout task's scorable attempt scores, per variant (each list non-empty)."""

    baseline: tuple[float, ...]
    candidate: tuple[float, ...]

    @property
    def delta(self) -> float:
        return sum(self.candidate) / len(self.candidate) - sum(self.baseline) / len(self.baseline)


@dataclass(frozen=True)
class LiftCI:
    """The observed mean lift, its interval (the hull of ``two_level`` and ``task_only``, the
    two percentile intervals), and the one-sided p-value for lift <= threshold."""

    mean: float
    low: float
    high: float
    n: int
    p_value: float
    threshold: float
    two_level: tuple[float, float]
    task_only: tuple[float, float]


def _posterior(scores: Sequence[float]) -> tuple[float, float]:
    """The Jeffreys posterior ``(a, b)`` of a (task, variant) rate given its attempt scores."""
    s = min(max(sum(scores), 0.0), float(len(scores)))
    return s + 0.5, len(scores) - s + 0.5


def _percentiles(reps: list[float], confidence: float) -> tuple[float, float]:
    reps.sort()
    n_boot = len(reps)
    alpha = (1.0 - confidence) / 2.0
    lo_i = min(n_boot - 1, max(0, int(alpha * n_boot)))
    hi_i = min(n_boot - 1, max(0, int((1.0 - alpha) * n_boot) - 1))
    return reps[lo_i], reps[hi_i]


def two_level_bootstrap(
    tasks: Sequence[PairedTask],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    threshold: float = 0.0,
) -> LiftCI:
    """Percentile CI of the mean per-task lift, resampling tasks and then each task's rates.

    Each replicate draws ``n`` tasks with replacement; over them it averages the observed
    deltas (the task-only replicate) and the differences of rates drawn from each task's Beta
    posteriors (the two-level replicate). The interval is the hull of the two percentile
    intervals (module docstring says why both) and ``p_value`` the larger share of replicates
    at or below ``threshold``: a one-sided bootstrap p-value for "the lift is at most
    ``threshold``". Counted this way (0 means none of ``n_boot``), ``low > threshold`` holds
    exactly when ``p_value <= (1 - confidence) / 2`` (unless ``low`` was widened down to an
    observed lift at or below ``threshold``), so the interval and the p-value, and with it the
    Holm correction, agree. A fixed ``seed`` gives the same numbers for the same input.
    """
    if not tasks:
        raise ValueError("two_level_bootstrap needs at least one task")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if any(not t.baseline or not t.candidate for t in tasks):
        raise ValueError("every task needs at least one scorable attempt per variant")
    n = len(tasks)
    deltas = [t.delta for t in tasks]
    mean = sum(deltas) / n
    params = [(*_posterior(t.candidate), *_posterior(t.baseline)) for t in tasks]
    rng = random.Random(seed)
    draw, pick, beta = rng.choices, range(n), rng.betavariate
    two_level, task_only = [], []
    for _ in range(n_boot):
        idx = draw(pick, k=n)
        task_only.append(sum(deltas[i] for i in idx) / n)
        two_level.append(
            sum(beta(ca, cb) - beta(ba, bb) for ca, cb, ba, bb in map(params.__getitem__, idx)) / n
        )
    p_value = max(
        sum(1 for r in reps if r <= threshold + EPS) / n_boot for reps in (two_level, task_only)
    )
    both = _percentiles(two_level, confidence)
    alone = _percentiles(task_only, confidence)
    # Float summation order differs between the mean and the replicates: keep low <= mean <= high.
    return LiftCI(
        mean=mean,
        low=min(both[0], alone[0], mean),
        high=max(both[1], alone[1], mean),
        n=n,
        p_value=p_value,
        threshold=threshold,
        two_level=both,
        task_only=alone,
    )


@dataclass(frozen=True)
class HolmResult:
    p_value: float
    adjusted: float
    significant: bool


def holm(p_values: Mapping[str, float], alpha: float) -> dict[str, HolmResult]:
    """Holm–Bonferroni step-down over a family of one-sided tests.

    The smallest p-value is held to ``alpha / m``, the next to ``alpha / (m - 1)``, ... and the
    first that fails stops the walk: everything after it fails too. Reported as adjusted
    p-values, ``max over j <= i of min(1, (m - j + 1) * p_(j))``, each significant iff
    ``<= alpha`` (the same verdicts as the walk). Ties are broken by name, so the output is
    deterministic. Controls the chance of *any* false accept across the family at ``alpha``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    order = sorted(p_values.items(), key=lambda kv: (kv[1], kv[0]))
    m = len(order)
    out: dict[str, HolmResult] = {}
    running = 0.0
    for i, (name, p) in enumerate(order):
        running = max(running, min(1.0, (m - i) * p))
        out[name] = HolmResult(p_value=p, adjusted=running, significant=running <= alpha)
    return out
