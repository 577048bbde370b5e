"""The night's figures, from its trials: what ``status`` and ``history.html`` plot.

Why computed once here and stored in the record: the history page draws many nights and must
not re-open every run; and the figures are the gate's own (``gate.metrics``, ``gate.scoring``)
so a night's plot and its report never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gate.metrics import normalize_signature, variant_metrics
from gate.scoring import score_trial
from harness.nightly.records import NightRecord


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def fill(rec: NightRecord, records: Sequence[Any], policy: Any) -> None:
    """Set the record's per-variant figures, token totals and error signatures."""
    w = policy.soft_weight
    variants = sorted({r.variant for r in records})
    rec.replayed = len(records)
    rec.tokens = sum(r.tokens.total for r in records)
    rec.scores, rec.pass_rates, rec.steps_to_green, rec.tokens_per_trial = {}, {}, {}, {}
    for v in variants:
        mine = [r for r in records if r.variant == v]
        held = [s.mixed for r in mine if r.split == "heldout" and (s := score_trial(r, w))]
        if (m := _mean(held)) is not None:
            rec.scores[v] = round(m, 4)
        vm = variant_metrics(v, mine, w)
        if vm.pass_rate is not None:
            rec.pass_rates[v] = round(vm.pass_rate, 4)
        steps = vm.mean_steps_to_green
        if steps is None:  # the runner did not see a green test run: agent turns of passes
            steps = _mean([float(r.tool_turns) for r in mine if r.status == "passed"])
        if steps is not None:
            rec.steps_to_green[v] = round(steps, 3)
        if vm.mean_tokens is not None:
            rec.tokens_per_trial[v] = round(vm.mean_tokens, 1)
    sigs = {normalize_signature(s) for r in records if r.status != "passed"
            for s in r.error_signatures}
    rec.error_signatures = sorted(s for s in sigs if s)
