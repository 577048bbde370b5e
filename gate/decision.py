"""The gate: baseline against each candidate, from all trials of a run, with reasons.

Rules, in the order they can decide (every rule that fires adds a reason, so a reader sees
all the evidence, not just the first blocker):

1. leakage guard: a heldout task that is also a train task, or that a candidate was derived
   from, is an *error* (GateError) — the run's numbers cannot be trusted at all;
2. unscorable guard: agent_error / infra_error / unjudgeable trials are counted apart; above
   ``max_unscorable_fraction`` the verdict is inconclusive, never a reject by zeros;
3. rejects: malformed candidate skill files; a heldout task whose score drops by more than
   ``regression_tolerance``; any frozen-task drop at all; tokens or time per trial above
   ``max_*_ratio`` of the baseline's;
4. too few heldout tasks (or scorable attempts per task) to decide: inconclusive, with the
   numbers needed;
5. lift: mean per-task heldout delta with a paired bootstrap CI; accept when the lower bound
   is above ``min_lift``, reject when the upper bound is not, inconclusive in between.

A mean alone hides a per-task regression, hence rule 3 runs before rule 5 ever can accept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from gate.metrics import variant_metrics
from gate.models import CandidateDecision, Decision, GateDecision, TaskRow, TrialRecord
from gate.scoring import paired_bootstrap, score_trial
from gate.skillfiles import check_skill_files
from harness.errors import GateError

EPS = 1e-9


class GatePolicy(BaseModel):
    """Every threshold the gate uses; serialised into each report so a verdict can be re-derived."""

    model_config = ConfigDict(extra="forbid")

    soft_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    min_lift: float = 0.0
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    n_boot: int = Field(default=2000, ge=100)
    seed: int = 0
    regression_tolerance: float = Field(default=0.1, ge=0.0)
    frozen_tolerance: float = Field(default=0.0, ge=0.0)
    max_unscorable_fraction: float = Field(default=0.2, ge=0.0, le=1.0)
    max_token_ratio: float | None = Field(default=1.5, gt=0.0)
    max_time_ratio: float | None = Field(default=1.5, gt=0.0)
    min_heldout_tasks: int = Field(default=5, ge=1)
    min_attempts: int = Field(default=1, ge=1)
    max_skill_bytes: int = Field(default=50_000, ge=1)
    required_sections: list[str] = Field(default_factory=list)
    keep_baseline_sections: bool = True


def check_leakage(
    trials: Sequence[TrialRecord], derived_from: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Raise GateError when a heldout task is also train, or a candidate's source task."""
    splits: dict[str, set[str]] = defaultdict(set)
    for t in trials:
        splits[t.task_id].add(t.split)
    problems = [
        f"{tid} is both {' and '.join(sorted(s))}"
        for tid, s in sorted(splits.items())
        if len(s) > 1
    ]
    sources: dict[str, set[str]] = defaultdict(set)
    for t in trials:
        sources[t.variant].update(t.derived_from)
    for variant, extra in (derived_from or {}).items():
        sources[variant].update(extra)
    heldout = {tid for tid, s in splits.items() if "heldout" in s}
    for variant, tids in sorted(sources.items()):
        leaked = sorted(heldout & tids)
        if leaked:
            problems.append(f"{variant} was derived from heldout task(s) {', '.join(leaked)}")
    if problems:
        raise GateError(
            "heldout leakage: " + "; ".join(problems),
            hint="a heldout task must never be trained on; fix the suite splits",
        )


def _task_scores(
    trials: Sequence[TrialRecord], variant: str, w: float
) -> tuple[dict[str, list[float]], dict[str, int], dict[str, str]]:
    scores: dict[str, list[float]] = defaultdict(list)
    unscorable: dict[str, int] = defaultdict(int)
    splits: dict[str, str] = {}
    for t in trials:
        if t.variant != variant:
            continue
        splits[t.task_id] = t.split
        s = score_trial(t, w)
        if s is None:
            unscorable[t.task_id] += 1
        else:
            scores[t.task_id].append(s.mixed)
    return scores, unscorable, splits


def _mean(v: Sequence[float]) -> float | None:
    return sum(v) / len(v) if v else None


def _cost(trials: Sequence[TrialRecord], variant: str) -> tuple[float | None, float | None]:
    mine = [t for t in trials if t.variant == variant and t.scorable]
    return _mean([float(t.tokens.total) for t in mine]), _mean([t.duration_sec for t in mine])


def _ratio_reason(
    what: str, cand: float | None, base: float | None, limit: float | None
) -> str | None:
    if limit is None or cand is None or not base:
        return None
    ratio = cand / base
    if ratio > limit + EPS:
        return f"cost guard: {what} per trial is {ratio:.2f}x the baseline's (limit {limit:g}x)"
    return None


def decide_candidate(
    trials: Sequence[TrialRecord],
    baseline: str,
    candidate: str,
    policy: GatePolicy,
    candidate_files: Mapping[str, str] | None = None,
    baseline_files: Mapping[str, str] | None = None,
) -> CandidateDecision:
    """One candidate's verdict and per-task table (leakage is checked by :func:`decide`)."""
    p = policy
    pair = [t for t in trials if t.variant in (baseline, candidate)]
    b_scores, b_bad, splits = _task_scores(pair, baseline, p.soft_weight)
    c_scores, c_bad, c_splits = _task_scores(pair, candidate, p.soft_weight)
    splits.update(c_splits)
    rows: list[TaskRow] = []
    for tid in sorted(splits):
        b, c = _mean(b_scores.get(tid, [])), _mean(c_scores.get(tid, []))
        delta = c - b if b is not None and c is not None else None
        tol = p.frozen_tolerance if splits[tid] == "frozen" else p.regression_tolerance
        regressed = splits[tid] != "train" and delta is not None and delta < -tol - EPS
        rows.append(
            TaskRow(
                task_id=tid,
                split=splits[tid],  # type: ignore[arg-type]
                baseline_score=b,
                candidate_score=c,
                delta=delta,
                baseline_trials=len(b_scores.get(tid, [])) + b_bad.get(tid, 0),
                candidate_trials=len(c_scores.get(tid, [])) + c_bad.get(tid, 0),
                baseline_unscorable=b_bad.get(tid, 0),
                candidate_unscorable=c_bad.get(tid, 0),
                regressed=regressed,
            )
        )

    out = CandidateDecision(candidate=candidate, decision="inconclusive", reasons=[], tasks=rows)
    n_bad = sum(b_bad.values()) + sum(c_bad.values())
    frac = n_bad / len(pair) if pair else 1.0
    if not pair:
        out.reasons.append(f"no trials for {baseline!r} or {candidate!r}")
        return out
    statuses: dict[str, int] = defaultdict(int)
    for t in pair:
        if not t.scorable:
            statuses[
                t.status if t.status not in ("passed", "failed", "timeout") else "unjudged"
            ] += 1
    if frac > p.max_unscorable_fraction + EPS:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
        out.reasons.append(
            f"{n_bad}/{len(pair)} trials unscorable ({frac:.0%} > "
            f"{p.max_unscorable_fraction:.0%}): {detail}; rerun before deciding"
        )
        return out

    rejects: list[str] = []
    if candidate_files is not None:
        for problem in check_skill_files(
            candidate_files,
            baseline=baseline_files,
            max_file_bytes=p.max_skill_bytes,
            required_sections=p.required_sections,
            keep_baseline_sections=p.keep_baseline_sections,
        ):
            rejects.append(f"skill structure: {problem}")
    for r in rows:
        if r.regressed and r.delta is not None:
            kind = "frozen suite regressed" if r.split == "frozen" else "per-task regression"
            tol = p.frozen_tolerance if r.split == "frozen" else p.regression_tolerance
            rejects.append(
                f"{kind}: {r.task_id} dropped {r.baseline_score:.2f} -> "
                f"{r.candidate_score:.2f} (tolerance {tol:g})"
            )
    # Cost over scorable trials only: a crashed trial's near-zero tokens would flatter a variant.
    cost = {v: _cost(pair, v) for v in (baseline, candidate)}
    for what, c, b, lim in (
        ("tokens", cost[candidate][0], cost[baseline][0], p.max_token_ratio),
        ("time", cost[candidate][1], cost[baseline][1], p.max_time_ratio),
    ):
        reason = _ratio_reason(what, c, b, lim)
        if reason:
            rejects.append(reason)

    paired = [
        r
        for r in rows
        if r.split == "heldout"
        and r.delta is not None
        and len(b_scores[r.task_id]) >= p.min_attempts
        and len(c_scores[r.task_id]) >= p.min_attempts
    ]
    if paired:
        ci = paired_bootstrap(
            [r.delta for r in paired if r.delta is not None],
            n_boot=p.n_boot,
            confidence=p.confidence,
            seed=p.seed,
        )
        out.lift, out.ci_low, out.ci_high = ci.mean, ci.low, ci.high
    if rejects:
        out.decision = "reject"
        out.reasons.extend(rejects)
        return out
    if len(paired) < p.min_heldout_tasks:
        out.reasons.append(
            f"too few heldout tasks to decide: {len(paired)} with >= {p.min_attempts} scorable "
            f"attempt(s) per variant, need {p.min_heldout_tasks}"
        )
        return out
    assert out.ci_low is not None and out.ci_high is not None and out.lift is not None
    ci_txt = (
        f"heldout lift {out.lift:+.3f}, {p.confidence:.0%} CI [{out.ci_low:+.3f}, "
        f"{out.ci_high:+.3f}] over {len(paired)} tasks"
    )
    if out.ci_low > p.min_lift + EPS:
        out.decision = "accept"
        out.reasons.append(f"{ci_txt}: lower bound above min_lift {p.min_lift:g}")
    elif out.ci_high <= p.min_lift + EPS:
        out.decision = "reject"
        out.reasons.append(f"{ci_txt}: no lift above min_lift {p.min_lift:g}")
    else:
        out.reasons.append(
            f"{ci_txt}: interval straddles min_lift {p.min_lift:g}; add heldout tasks or attempts"
        )
    return out


def decide(
    trials: Sequence[TrialRecord],
    *,
    baseline: str = "baseline",
    candidates: Sequence[str] | None = None,
    policy: GatePolicy | None = None,
    candidate_files: Mapping[str, Mapping[str, str]] | None = None,
    baseline_files: Mapping[str, str] | None = None,
    derived_from: Mapping[str, Sequence[str]] | None = None,
) -> GateDecision:
    """The run's decision: accept the best accepted candidate, else reject or inconclusive."""
    p = policy or GatePolicy()
    if not trials:
        raise GateError("no trial records to decide on")
    run_ids = sorted({t.run_id for t in trials})
    check_leakage(trials, derived_from)
    variants = sorted({t.variant for t in trials})
    if baseline not in variants:
        raise GateError(
            f"baseline variant {baseline!r} has no trials",
            hint=f"variants in the run: {', '.join(variants)}",
        )
    names = list(candidates) if candidates is not None else [v for v in variants if v != baseline]
    if not names:
        raise GateError("no candidate variant to compare with the baseline")
    verdicts = [
        decide_candidate(trials, baseline, c, p, (candidate_files or {}).get(c), baseline_files)
        for c in names
    ]
    accepted = sorted(
        (v for v in verdicts if v.decision == "accept"),
        key=lambda v: (-(v.lift or 0.0), v.candidate),
    )
    decision: Decision
    if accepted:
        decision, chosen = "accept", accepted[0].candidate
        reasons = [f"{chosen}: {r}" for r in accepted[0].reasons]
    elif all(v.decision == "reject" for v in verdicts):
        decision, chosen = "reject", None
        reasons = [f"{v.candidate}: {r}" for v in verdicts for r in v.reasons]
    else:
        decision, chosen = "inconclusive", None
        reasons = [f"{v.candidate}: {r}" for v in verdicts for r in v.reasons]
    return GateDecision(
        run_id=",".join(run_ids),
        baseline=baseline,
        decision=decision,
        chosen=chosen,
        reasons=reasons,
        candidates=verdicts,
        metrics=[variant_metrics(v, trials, p.soft_weight) for v in [baseline, *names]],
        policy=p.model_dump(),
    )
