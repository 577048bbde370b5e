"""Item 4's metrics, computed the same way for every variant of a run.

- pass rate: scorable trials with hard score 1, over scorable trials;
- mean mixed score over scorable trials;
- pass@k: the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` per task (n scorable attempts,
  c passing), averaged over tasks with at least k attempts;
- steps to green: mean tool turns until the tests first passed (runner-supplied), over the
  trials that got there;
- repeat-error rate: within each trial, the share of error occurrences whose normalized
  signature had already been seen in that trial (the agent hit the same wall again);
- tokens and time: means per trial, unscorable trials included (they cost money too).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from math import comb

from gate.models import TrialRecord, VariantMetrics
from gate.scoring import DEFAULT_SOFT_WEIGHT, score_trial

_NORMALIZERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"0x[0-9a-f]+", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b[0-9a-f]{7,40}\b", re.IGNORECASE), "<hash>"),
    (re.compile(r"(?:/[\w.\-]+)+"), "<path>"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalize_signature(sig: str) -> str:
    """Strip what varies between two sightings of the same error (paths, numbers, ids)."""
    out = sig.strip().lower()
    for pattern, repl in _NORMALIZERS:
        out = pattern.sub(repl, out)
    return out.strip()


def repeat_error_rate(trials: Sequence[TrialRecord]) -> float | None:
    total = repeats = 0
    for t in trials:
        seen: set[str] = set()
        for sig in t.error_signatures:
            norm = normalize_signature(sig)
            total += 1
            if norm in seen:
                repeats += 1
            seen.add(norm)
    return repeats / total if total else None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k attempts drawn from n (c passing) passes."""
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def variant_metrics(
    variant: str, trials: Sequence[TrialRecord], w: float = DEFAULT_SOFT_WEIGHT
) -> VariantMetrics:
    mine = [t for t in trials if t.variant == variant]
    scored = [(t, s) for t in mine if (s := score_trial(t, w)) is not None]
    per_task: dict[str, list[float]] = defaultdict(list)
    for t, s in scored:
        per_task[t.task_id].append(s.hard)
    max_n = max((len(v) for v in per_task.values()), default=0)
    pak: dict[str, float] = {}
    for k in sorted({1, max_n} | set(range(1, min(max_n, 5) + 1))):
        if k < 1:
            continue
        vals = [pass_at_k(len(h), int(sum(h)), k) for h in per_task.values() if len(h) >= k]
        if vals:
            pak[str(k)] = sum(vals) / len(vals)
    greens = [float(t.steps_to_green) for t in mine if t.steps_to_green is not None]
    return VariantMetrics(
        variant=variant,
        trials=len(mine),
        scorable=len(scored),
        unscorable=len(mine) - len(scored),
        pass_rate=_mean([s.hard for _, s in scored]),
        mean_mixed=_mean([s.mixed for _, s in scored]),
        pass_at_k=pak,
        mean_steps_to_green=_mean(greens),
        repeat_error_rate=repeat_error_rate(mine),
        mean_tokens=_mean([float(t.tokens.total) for t in mine]),
        mean_duration_sec=_mean([t.duration_sec for t in mine]),
    )
