"""The gate: baseline against each candidate, from all trials of a run, with reasons.

Rules, in the order they can decide. The first reason of a verdict names the rule that
decided it, with its numbers; every other rule that fires adds a reason too, so a reader sees
all the evidence, not just the first blocker:

1. leakage guard: a heldout task that is also a train task, or that a candidate was derived
   from, is an *error* (GateError) — the run's numbers cannot be trusted at all;
2. unscorable guard: agent_error / infra_error / unjudgeable trials are counted apart; above
   ``max_unscorable_fraction`` the verdict is inconclusive, never a reject by zeros;
3. reject guards: malformed candidate skill files; a heldout task whose score drops by more
   than ``regression_tolerance``; any frozen-task drop beyond ``frozen_tolerance`` (0: any
   drop at all); tokens or time per trial above ``max_*_ratio`` of the baseline's;
4. too few heldout tasks (with a scorable attempt per variant) to decide: inconclusive;
5. lift rule: the mean per-task heldout delta with a two-level paired bootstrap interval
   (tasks, then attempts within each task; :mod:`gate.stats` says why and how one attempt
   per task is handled). Accept when the lower bound is above ``min_lift``; reject when the
   upper bound, or the observed lift itself, is not (the data show no lift, and more of the
   same would not reverse that); inconclusive in between;
6. min_attempts: an accept also needs ``min_heldout_tasks`` tasks with ``min_attempts``
   scorable attempts per variant, else inconclusive. By default 2 under a real model
   (``model_mode`` record / live: one attempt of a stochastic model proves little), 1 under
   scripted / replay;
7. Holm: with several candidates in one run, each accept must also survive Holm–Bonferroni
   over all candidates' one-sided p-values; the text says when the correction changed a
   verdict.

A mean alone hides a per-task regression, hence rule 3 runs before rule 5 ever can accept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from gate.metrics import variant_metrics
from gate.models import (
    CandidateDecision,
    Decision,
    GateDecision,
    ModelMode,
    TaskRow,
    TrialRecord,
)
from gate.scoring import TrialScore, score_trial
from gate.skillfiles import check_skill_files
from gate.stats import PairedTask, holm, jeffreys_interval, two_level_bootstrap
from harness.errors import GateError

EPS = 1e-9
#: Gateway modes that talk to a real, stochastic model.
REAL_MODEL_MODES: frozenset[str] = frozenset({"record", "live"})


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
    min_attempts: int | None = Field(
        default=None,
        ge=1,
        description="scorable attempts per variant a heldout task needs before an accept; "
        "unset: 2 under model_mode record / live, else 1",
    )
    model_mode: ModelMode | None = Field(
        default=None, description="the run's model; decide(model_mode=...) sets it"
    )
    max_skill_bytes: int = Field(default=50_000, ge=1)
    required_sections: list[str] = Field(default_factory=list)
    keep_baseline_sections: bool = True

    @property
    def attempts_needed(self) -> int:
        """``min_attempts``, or its default for the model mode."""
        if self.min_attempts is not None:
            return self.min_attempts
        return 2 if self.model_mode in REAL_MODEL_MODES else 1


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
) -> tuple[dict[str, list[TrialScore]], dict[str, int], dict[str, str]]:
    scores: dict[str, list[TrialScore]] = defaultdict(list)
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
            scores[t.task_id].append(s)
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


def _rows(
    splits: Mapping[str, str],
    b_scores: Mapping[str, list[TrialScore]],
    c_scores: Mapping[str, list[TrialScore]],
    b_bad: Mapping[str, int],
    c_bad: Mapping[str, int],
    p: GatePolicy,
) -> list[TaskRow]:
    """The per-task table: mean mixed scores, their delta, and each variant's pass rate."""

    def rate(scores: list[TrialScore]) -> tuple[float | None, tuple[float, float] | None]:
        if not scores:
            return None, None
        passes = sum(s.hard for s in scores)
        return passes / len(scores), jeffreys_interval(passes, len(scores), p.confidence)

    rows = []
    for tid in sorted(splits):
        bs, cs = b_scores.get(tid, []), c_scores.get(tid, [])
        b, c = _mean([s.mixed for s in bs]), _mean([s.mixed for s in cs])
        delta = c - b if b is not None and c is not None else None
        tol = p.frozen_tolerance if splits[tid] == "frozen" else p.regression_tolerance
        (b_rate, b_ci), (c_rate, c_ci) = rate(bs), rate(cs)
        rows.append(
            TaskRow(
                task_id=tid,
                split=splits[tid],  # type: ignore[arg-type]
                baseline_score=b,
                candidate_score=c,
                delta=delta,
                baseline_trials=len(bs) + b_bad.get(tid, 0),
                candidate_trials=len(cs) + c_bad.get(tid, 0),
                baseline_unscorable=b_bad.get(tid, 0),
                candidate_unscorable=c_bad.get(tid, 0),
                regressed=splits[tid] != "train" and delta is not None and delta < -tol - EPS,
                baseline_pass_rate=b_rate,
                baseline_pass_ci=b_ci,
                candidate_pass_rate=c_rate,
                candidate_pass_ci=c_ci,
            )
        )
    return rows


def _attempts_text(tasks: Sequence[PairedTask]) -> str:
    counts = [len(x) for t in tasks for x in (t.baseline, t.candidate)]
    lo, hi = min(counts), max(counts)
    each = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{each} attempt{'s' if hi > 1 else ''} per task and variant"


def _single_attempt_note(tasks: Sequence[PairedTask], baseline: str, candidate: str) -> str | None:
    """Say plainly when the second bootstrap level has no data to resample, only its prior."""
    n = len(tasks)
    b = sum(1 for t in tasks if len(t.baseline) == 1)
    c = sum(1 for t in tasks if len(t.candidate) == 1)
    if not b and not c:
        return None
    if b == c == n:
        who = "one attempt per task"
    else:
        who = "; ".join(
            f"{name} has one scorable attempt on {k} of {n} heldout tasks"
            for name, k in ((baseline, b), (candidate, c))
            if k
        )
    return (
        f"{who}: there is no within-task information on attempt noise, so each such task's "
        "rate is drawn from its Jeffreys Beta(s+1/2, 1-s+1/2) posterior; the interval is wide "
        "on purpose, and trials >= 2 per task would narrow it"
    )


def decide_candidate(
    trials: Sequence[TrialRecord],
    baseline: str,
    candidate: str,
    policy: GatePolicy,
    candidate_files: Mapping[str, str] | None = None,
    baseline_files: Mapping[str, str] | None = None,
) -> CandidateDecision:
    """One candidate's verdict and per-task table, before the Holm correction across
    candidates (leakage is checked, and Holm applied, by :func:`decide`)."""
    p = policy
    pair = [t for t in trials if t.variant in (baseline, candidate)]
    b_scores, b_bad, splits = _task_scores(pair, baseline, p.soft_weight)
    c_scores, c_bad, c_splits = _task_scores(pair, candidate, p.soft_weight)
    splits.update(c_splits)
    rows = _rows(splits, b_scores, c_scores, b_bad, c_bad, p)

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
        out.rule = "unscorable"
        out.reasons.append(
            f"unscorable guard: {n_bad}/{len(pair)} trials unscorable ({frac:.0%} > "
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

    paired = {
        r.task_id: PairedTask(
            tuple(s.mixed for s in b_scores[r.task_id]),
            tuple(s.mixed for s in c_scores[r.task_id]),
        )
        for r in rows
        if r.split == "heldout" and r.delta is not None
    }
    tasks = list(paired.values())
    if tasks:
        ci = two_level_bootstrap(
            tasks, n_boot=p.n_boot, confidence=p.confidence, seed=p.seed, threshold=p.min_lift
        )
        out.lift, out.ci_low, out.ci_high, out.p_value = ci.mean, ci.low, ci.high, ci.p_value
    if rejects:
        out.decision, out.rule = "reject", "reject-guard"
        out.reasons.extend(rejects)
        return out
    if len(tasks) < p.min_heldout_tasks:
        out.rule = "too-few-tasks"
        out.reasons.append(
            f"too few heldout tasks to decide: {len(tasks)} with a scorable attempt per "
            f"variant, need {p.min_heldout_tasks}"
        )
        return out
    assert out.ci_low is not None and out.ci_high is not None and out.lift is not None
    ci_txt = (
        f"heldout lift {out.lift:+.3f}, {p.confidence:.0%} CI [{out.ci_low:+.3f}, "
        f"{out.ci_high:+.3f}] over {len(tasks)} tasks, {_attempts_text(tasks)} "
        "(two-level bootstrap: tasks, then attempts)"
    )
    out.rule = "lift"
    if out.ci_low > p.min_lift + EPS:
        needed = p.attempts_needed
        enough = sum(1 for t in tasks if min(len(t.baseline), len(t.candidate)) >= needed)
        if enough < p.min_heldout_tasks:
            mode = f" under model mode {p.model_mode}" if p.model_mode else ""
            out.rule = "min-attempts"
            out.reasons.append(
                f"min_attempts rule{mode}: {enough} heldout tasks with >= {needed} scorable "
                f"attempt(s) per variant, need {p.min_heldout_tasks} before an accept; the "
                f"lift rule alone would accept ({ci_txt}); rerun with more trials per task"
            )
        else:
            out.decision = "accept"
            out.reasons.append(f"lift rule: {ci_txt}: lower bound above min_lift {p.min_lift:g}")
    elif out.ci_high <= p.min_lift + EPS or out.lift <= p.min_lift + EPS:
        out.decision = "reject"
        out.reasons.append(
            f"lift rule: {ci_txt}: no lift above min_lift {p.min_lift:g} "
            f"({'upper bound' if out.ci_high <= p.min_lift + EPS else 'observed lift'} "
            "not above it)"
        )
    else:
        out.reasons.append(
            f"lift rule: {ci_txt}: interval straddles min_lift {p.min_lift:g}; "
            "add heldout tasks or attempts"
        )
    note = _single_attempt_note(tasks, baseline, candidate)
    if note:
        out.reasons.append(note)
    return out


def _holm_correct(verdicts: Sequence[CandidateDecision], p: GatePolicy) -> None:
    """Hold several candidates' accepts to a family-wise error rate (Holm–Bonferroni).

    Each candidate's test is one-sided (lift <= min_lift) at ``(1 - confidence) / 2``, the
    level the interval's lower bound already tests at (the two agree exactly), so a lone
    candidate is decided by its interval, uncorrected. The family is every candidate of the
    run: one tried without a lift estimate counts with p = 1, as it was tried all the same.
    """
    if len(verdicts) < 2:
        return
    alpha = (1.0 - p.confidence) / 2.0
    res = holm({v.candidate: 1.0 if v.p_value is None else v.p_value for v in verdicts}, alpha)
    m = len(verdicts)
    for v in verdicts:
        h = res[v.candidate]
        v.p_holm = h.adjusted
        if v.decision != "accept":
            continue
        nums = (
            f"p={h.p_value:.4f}, Holm-adjusted p={h.adjusted:.4f} "
            f"{'<=' if h.significant else '>'} {alpha:.4f} (one-sided, lift <= min_lift "
            f"{p.min_lift:g})"
        )
        if h.significant:
            v.reasons.append(f"Holm correction over {m} candidates: {nums}; verdict unchanged")
        else:
            v.decision, v.rule = "inconclusive", "holm"
            v.reasons.insert(
                0,
                f"Holm correction over {m} candidates changed the verdict from accept to "
                f"inconclusive: {nums}",
            )


def decide(
    trials: Sequence[TrialRecord],
    *,
    baseline: str = "baseline",
    candidates: Sequence[str] | None = None,
    policy: GatePolicy | None = None,
    candidate_files: Mapping[str, Mapping[str, str]] | None = None,
    baseline_files: Mapping[str, str] | None = None,
    derived_from: Mapping[str, Sequence[str]] | None = None,
    model_mode: ModelMode | None = None,
) -> GateDecision:
    """The run's decision: accept the best accepted candidate, else reject or inconclusive.

    ``model_mode`` is the run's Gateway mode as the runner knows it; it overrides the
    policy's and is recorded in the report's policy (record / live need ``min_attempts``).
    """
    p = policy or GatePolicy()
    if model_mode is not None:
        p = p.model_copy(update={"model_mode": model_mode})
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
    _holm_correct(verdicts, p)
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
        # The inconclusive candidates decided it: their reasons first.
        decision, chosen = "inconclusive", None
        ordered = sorted(verdicts, key=lambda v: v.decision != "inconclusive")
        reasons = [f"{v.candidate}: {r}" for v in ordered for r in v.reasons]
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
