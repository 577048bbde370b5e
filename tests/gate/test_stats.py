"""The gate's statistics against answers known in closed form (gate/stats.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.scoring import paired_bootstrap
from gate.stats import (
    PairedTask,
    beta_cdf,
    beta_ppf,
    holm,
    jeffreys_interval,
    two_level_bootstrap,
)


def _cdf_1_5_0_5(x: float) -> float:
    """Beta(3/2, 1/2), the Jeffreys posterior after one pass, in closed form."""
    return 2.0 / math.pi * (math.asin(math.sqrt(x)) - math.sqrt(x * (1.0 - x)))


@pytest.mark.parametrize("x", [1e-6, 0.01, 0.2, 0.5, 0.73, 0.99, 1 - 1e-9])
def test_beta_cdf_matches_closed_forms(x: float) -> None:
    assert beta_cdf(x, 0.5, 0.5) == pytest.approx(2 / math.pi * math.asin(math.sqrt(x)), abs=1e-10)
    assert beta_cdf(x, 1.5, 0.5) == pytest.approx(_cdf_1_5_0_5(x), abs=1e-10)
    assert beta_cdf(x, 2.0, 1.0) == pytest.approx(x * x, abs=1e-10)
    assert beta_cdf(x, 3.0, 2.0) == pytest.approx(4 * x**3 - 3 * x**4, abs=1e-10)
    assert beta_cdf(x, 1.0, 1.0) == pytest.approx(x, abs=1e-10)


def test_beta_cdf_edges_and_bad_parameters() -> None:
    assert beta_cdf(0.0, 2, 3) == 0.0 and beta_cdf(1.0, 2, 3) == 1.0
    with pytest.raises(ValueError):
        beta_cdf(0.5, 0.0, 1.0)
    with pytest.raises(ValueError):
        beta_ppf(1.5, 1.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.2, 40.0), st.floats(0.2, 40.0))
def test_beta_ppf_inverts_the_cdf(q: float, a: float, b: float) -> None:
    assert beta_cdf(beta_ppf(q, a, b), a, b) == pytest.approx(q, abs=1e-9)


def test_jeffreys_interval_known_answers() -> None:
    # Half a pass of one attempt: Beta(1, 1), the uniform, so the 95% interval is its 2.5%..97.5%.
    assert jeffreys_interval(0.5, 1) == pytest.approx((0.025, 0.975), abs=1e-10)
    # One pass of one attempt: Beta(3/2, 1/2); the upper bound is pinned to 1.
    low, high = jeffreys_interval(1, 1)
    assert _cdf_1_5_0_5(low) == pytest.approx(0.025, abs=1e-12) and high == 1.0
    assert low == pytest.approx(0.1467, abs=1e-4)  # one pass proves little
    # Symmetry: no pass of one attempt mirrors one pass.
    assert jeffreys_interval(0, 1) == pytest.approx((0.0, 1.0 - low), abs=1e-10)
    # More attempts with the same rate narrow the interval.
    widths = [h - lo for lo, h in (jeffreys_interval(n / 2, n) for n in (2, 8, 32, 128))]
    assert widths == sorted(widths, reverse=True) and widths[-1] < 0.2
    with pytest.raises(ValueError):
        jeffreys_interval(0, 0)
    with pytest.raises(ValueError):
        jeffreys_interval(3, 2)


# --- the two-level bootstrap --------------------------------------------------------------


def test_three_tasks_one_attempt_is_no_longer_a_zero_width_interval() -> None:
    """The issue's case: three tasks, one trial each, 0.125 -> 1.0 on every task."""
    deltas = [0.875] * 3
    task_only = paired_bootstrap(deltas)
    assert (task_only.low, task_only.high) == (0.875, 0.875)  # what the gate used to say
    ci = two_level_bootstrap([PairedTask((0.125,), (1.0,))] * 3)
    assert ci.mean == pytest.approx(0.875) and ci.high == pytest.approx(0.875)
    assert ci.low < 0.1  # one attempt of a stochastic model: nowhere near +0.875
    assert ci.high - ci.low > 0.75
    assert 0.01 < ci.p_value < 0.05


def test_one_task_one_attempt_p_value_matches_the_closed_form() -> None:
    """One pass against one fail: the lift replicate is X - Y with X ~ Beta(3/2, 1/2) and
    Y ~ Beta(1/2, 3/2), and P(X <= Y) = 1/2 - 4/pi^2 (integrate with x = sin^2 t)."""
    ci = two_level_bootstrap([PairedTask((0.0,), (1.0,))], n_boot=40_000, seed=3)
    assert ci.p_value == pytest.approx(0.5 - 4 / math.pi**2, abs=0.006)  # ~0.0947; 4 SE
    assert ci.mean == 1.0 and ci.high == 1.0 and ci.low < -0.2


def _binary_tasks(k: int, pairs: list[tuple[float, float]] | None = None) -> list[PairedTask]:
    """Tasks with pass/fail outcomes (baseline, candidate), each repeated k times."""
    pairs = pairs or [(0.0, 1.0)] * 5 + [(0.0, 0.0)]  # deltas 1, 1, 1, 1, 1, 0
    return [PairedTask((b,) * k, (c,) * k) for b, c in pairs]


def test_identical_attempts_narrow_toward_the_task_only_interval() -> None:
    task_only = paired_bootstrap([1.0] * 5 + [0.0])
    assert (task_only.low, task_only.high) == (0.5, 1.0)
    cis = [two_level_bootstrap(_binary_tasks(k)) for k in (1, 2, 4, 16, 256)]
    widths = [c.high - c.low for c in cis]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0.8
    for ci in cis:  # never narrower than the task-only interval
        assert ci.task_only == (task_only.low, task_only.high)
        assert ci.low <= task_only.low and ci.high >= task_only.high
    assert cis[-1].mean == pytest.approx(task_only.mean)
    assert cis[-1].two_level[0] == pytest.approx(task_only.low, abs=0.03)
    assert cis[-1].two_level[1] == pytest.approx(task_only.high, abs=0.03)
    assert widths[-1] == pytest.approx(task_only.high - task_only.low, abs=0.03)


def test_varied_tasks_keep_at_least_the_task_only_interval() -> None:
    """The posterior pulls one-attempt rates toward 1/2, which draws varied tasks together;
    the reported interval still spans the task-only one."""
    pairs = [(0.0, 1.0)] * 3 + [(1.0, 1.0), (0.0, 0.0), (1.0, 0.0)]  # deltas 1, 1, 1, 0, 0, -1
    task_only = paired_bootstrap([1.0, 1.0, 1.0, 0.0, 0.0, -1.0])
    ci = two_level_bootstrap(_binary_tasks(1, pairs))
    assert ci.two_level[1] < task_only.high  # the shrunken level alone would be narrower
    assert (ci.low, ci.high) == (task_only.low, task_only.high)


def test_attempts_with_spread_widen_the_interval_against_agreeing_ones() -> None:
    agree = [PairedTask((0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0))] * 5
    spread = [PairedTask((0.0, 0.0, 1.0, 1.0), (1.0, 1.0, 0.0, 1.0))] * 5
    a, s = two_level_bootstrap(agree), two_level_bootstrap(spread)
    assert s.high - s.low > a.high - a.low and s.p_value > a.p_value


def test_two_level_bootstrap_is_deterministic_given_the_seed() -> None:
    tasks = _binary_tasks(2)
    assert two_level_bootstrap(tasks, seed=5) == two_level_bootstrap(tasks, seed=5)
    assert two_level_bootstrap(tasks, seed=5) != two_level_bootstrap(tasks, seed=6)


def test_p_value_agrees_exactly_with_the_interval() -> None:
    """The lower bound tests at (1 - confidence) / 2 one-sided; the p-value from the same
    replicates lands on the same side, always (Holm relies on it)."""
    seen = set()
    for k in (1, 2, 3):
        for n_tasks in (3, 6):
            for threshold in (-0.2, 0.0, 0.1, 0.3, 0.5, 0.6, 0.8):
                for confidence in (0.9, 0.95):
                    ci = two_level_bootstrap(
                        _binary_tasks(k)[:n_tasks],
                        threshold=threshold,
                        confidence=confidence,
                        n_boot=1000,
                    )
                    above = ci.low > threshold + 1e-9
                    assert above == (ci.p_value <= (1 - confidence) / 2), (k, threshold, ci)
                    seen.add(above)
    assert seen == {True, False}


def test_two_level_bootstrap_bad_input() -> None:
    with pytest.raises(ValueError):
        two_level_bootstrap([])
    with pytest.raises(ValueError):
        two_level_bootstrap([PairedTask((), (1.0,))])
    with pytest.raises(ValueError):
        two_level_bootstrap([PairedTask((1.0,), (1.0,))], confidence=1.0)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
            st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 1000),
)
def test_interval_contains_the_lift_and_stays_in_range(
    cells: list[tuple[list[float], list[float]]], seed: int
) -> None:
    ci = two_level_bootstrap(
        [PairedTask(tuple(b), tuple(c)) for b, c in cells], n_boot=200, seed=seed
    )
    assert -1.0 <= ci.low <= ci.mean <= ci.high <= 1.0
    assert 0.0 <= ci.p_value <= 1.0


# --- Holm ------------------------------------------------------------------------------------


def test_holm_known_answer() -> None:
    # Sorted: d .005 <= .05/4; a .01 <= .05/3; c .03 > .05/2 stops the walk, so b fails too.
    out = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}, alpha=0.05)
    assert {k: v.significant for k, v in out.items()} == {
        "a": True,
        "b": False,
        "c": False,
        "d": True,
    }
    adjusted = {k: v.adjusted for k, v in out.items()}
    assert adjusted == pytest.approx({"d": 0.02, "a": 0.03, "c": 0.06, "b": 0.06})
    assert out["b"].p_value == 0.04


def test_holm_with_one_test_is_the_plain_test_and_caps_at_one() -> None:
    one = holm({"x": 0.02}, alpha=0.025)["x"]
    assert one.adjusted == 0.02 and one.significant
    assert not holm({"x": 0.03}, alpha=0.025)["x"].significant
    capped = holm({"x": 0.6, "y": 0.7}, alpha=0.05)
    assert capped["x"].adjusted == 1.0 and capped["y"].adjusted == 1.0


def test_holm_is_less_strict_than_bonferroni_after_the_first_step() -> None:
    # Bonferroni would hold both to .025; Holm holds the second only to .05.
    out = holm({"a": 0.001, "b": 0.04}, alpha=0.05)
    assert out["a"].significant and out["b"].significant and out["b"].adjusted == 0.04
    with pytest.raises(ValueError):
        holm({"a": 0.1}, alpha=0.0)
