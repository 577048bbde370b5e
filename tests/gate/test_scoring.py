"""Scores and the paired bootstrap: unit cases plus hypothesis properties."""

from __future__ import annotations

import pytest
from gate_helpers import check, trial
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.models import CheckResult
from gate.scoring import (
    hard_score,
    mixed_score,
    outcome_status,
    paired_bootstrap,
    score_trial,
    soft_score,
)

checks_st = st.lists(
    st.builds(
        lambda p, w: CheckResult(name="c", op="x", passed=p, score=float(p), weight=w),
        st.booleans(),
        st.floats(0.0, 10.0),
    ),
    min_size=1,
    max_size=12,
)
weights_st = st.floats(0.0, 1.0)


@given(checks_st, weights_st)
def test_scores_are_bounded_and_mixed_between_hard_and_soft(
    results: list[CheckResult], w: float
) -> None:
    h, s = hard_score(results), soft_score(results)
    m = mixed_score(h, s, w)
    assert h in (0.0, 1.0)
    assert 0.0 <= s <= 1.0
    assert min(h, s) - 1e-12 <= m <= max(h, s) + 1e-12


@given(checks_st)
def test_hard_one_iff_all_pass_and_then_soft_is_one(results: list[CheckResult]) -> None:
    all_pass = all(r.passed for r in results)
    assert (hard_score(results) == 1.0) == all_pass
    if all_pass:
        assert soft_score(results) == 1.0


@given(checks_st, st.integers(0, 11))
def test_passing_one_more_check_never_lowers_soft(results: list[CheckResult], i: int) -> None:
    i %= len(results)
    better = list(results)
    better[i] = results[i].model_copy(update={"passed": True})
    assert soft_score(better) >= soft_score(results) - 1e-12


@given(st.floats(0, 1), st.floats(0, 1))
def test_mixed_endpoints(h: float, s: float) -> None:
    assert mixed_score(h, s, 0.0) == pytest.approx(h)
    assert mixed_score(h, s, 1.0) == pytest.approx(s)


def test_soft_is_weighted_fraction() -> None:
    rs = [check(True).model_copy(update={"weight": 3.0}), check(False)]
    assert soft_score(rs) == pytest.approx(0.75)
    zero = [
        check(True).model_copy(update={"weight": 0.0}),
        check(False).model_copy(update={"weight": 0.0}),
    ]
    assert soft_score(zero) == pytest.approx(0.5)


def test_mixed_rejects_weight_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="soft weight"):
        mixed_score(1, 1, 1.5)


def test_score_trial_rules() -> None:
    s = score_trial(trial("t", "v", passes=1, fails=1))
    assert s is not None and (s.hard, s.soft, s.mixed) == (0.0, 0.5, 0.25)
    timed_out = score_trial(trial("t", "v", passes=2, fails=0, status="timeout"))
    assert timed_out is not None and (timed_out.hard, timed_out.soft) == (0.0, 1.0)
    assert score_trial(trial("t", "v", status="infra_error")) is None
    assert score_trial(trial("t", "v", status="agent_error")) is None
    unjudged = trial("t", "v").model_copy(update={"check_results": [check(True), check(None)]})
    assert score_trial(unjudged) is None
    no_checks = trial("t", "v", passes=0, fails=0, status="passed")
    assert score_trial(no_checks) is not None and score_trial(no_checks).mixed == 1.0  # type: ignore[union-attr]


deltas_st = st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(deltas_st, st.integers(0, 2**32))
def test_bootstrap_ci_contains_mean_and_stays_in_range(deltas: list[float], seed: int) -> None:
    ci = paired_bootstrap(deltas, n_boot=300, seed=seed)
    assert ci.low <= ci.mean <= ci.high
    assert min(deltas) - 1e-9 <= ci.low and ci.high <= max(deltas) + 1e-9
    assert ci.n == len(deltas)


@settings(max_examples=40, deadline=None)
@given(deltas_st, st.integers(0, 1000))
def test_bootstrap_is_reproducible_with_a_seed(deltas: list[float], seed: int) -> None:
    assert paired_bootstrap(deltas, n_boot=200, seed=seed) == paired_bootstrap(
        deltas, n_boot=200, seed=seed
    )


@settings(max_examples=40, deadline=None)
@given(deltas_st, st.floats(-1.0, 1.0))
def test_bootstrap_shift_equivariance(deltas: list[float], c: float) -> None:
    a = paired_bootstrap(deltas, n_boot=200, seed=7)
    b = paired_bootstrap([d + c for d in deltas], n_boot=200, seed=7)
    assert b.mean == pytest.approx(a.mean + c, abs=1e-9)
    assert b.low == pytest.approx(a.low + c, abs=1e-9)
    assert b.high == pytest.approx(a.high + c, abs=1e-9)


@given(st.floats(-1, 1), st.integers(1, 30))
def test_bootstrap_constant_deltas_collapse(c: float, n: int) -> None:
    ci = paired_bootstrap([c] * n, n_boot=200)
    assert ci.low == pytest.approx(c) and ci.high == pytest.approx(c)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=20))
def test_higher_confidence_gives_a_wider_interval(deltas: list[float]) -> None:
    narrow = paired_bootstrap(deltas, n_boot=400, confidence=0.5, seed=1)
    wide = paired_bootstrap(deltas, n_boot=400, confidence=0.99, seed=1)
    assert wide.low <= narrow.low + 1e-12 and wide.high >= narrow.high - 1e-12


def test_bootstrap_rejects_empty_and_bad_confidence() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap([])
    with pytest.raises(ValueError):
        paired_bootstrap([0.1], confidence=1.0)


def test_outcome_status_precedence() -> None:
    ok, bad = [check(True)], [check(True), check(False)]
    assert outcome_status(ok) == "passed" and outcome_status(bad) == "failed"
    assert outcome_status(ok, timed_out=True) == "timeout"
    assert outcome_status(ok, timed_out=True, agent_error=True) == "agent_error"
    assert outcome_status(bad, agent_error=True, infra_error=True) == "infra_error"
