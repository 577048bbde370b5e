"""One decision test per rule of issue 6 item 3, on constructed trial sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from gate_helpers import check, trial, trial_set

from gate.decision import GatePolicy, decide
from gate.models import TrialRecord
from gate.stats import jeffreys_interval
from harness.errors import GateError

GOOD_SKILL = (
    "---\nname: brief-writer\ndescription: Writes briefs.\n---\n# Brief\n\n## Key Risks\nx\n"
)


def verdict(trials: list[TrialRecord], **policy: object) -> tuple[str, list[str]]:
    d = decide(trials, baseline="baseline", policy=GatePolicy(**policy))  # type: ignore[arg-type]
    return d.decision, d.reasons


# --- lift with a paired bootstrap CI -------------------------------------------------------


def test_accept_when_ci_lower_bound_above_min_lift() -> None:
    d = decide(trial_set(8, base_fails=1, cand_fails=0))
    assert d.decision == "accept" and d.chosen == "cand" and d.exit_code == 0
    c = d.candidates[0]
    assert c.lift == pytest.approx(0.75) and c.ci_low is not None and c.ci_low > 0
    assert "lower bound above min_lift" in d.reasons[0]
    assert [r.task_id for r in d.tasks] == [f"t{i:02d}" for i in range(8)]


def test_reject_when_no_lift() -> None:
    decision, reasons = verdict(trial_set(8, base_fails=0, cand_fails=0))
    assert decision == "reject" and "no lift" in reasons[0]


def test_reject_when_lift_below_min_lift() -> None:
    decision, reasons = verdict(trial_set(8, base_fails=1, cand_fails=0), min_lift=0.8)
    assert decision == "reject" and "min_lift 0.8" in reasons[0]


def test_inconclusive_when_ci_straddles_min_lift() -> None:
    trials = []  # deltas +.75, -.75, +.75, +.75, 0, 0: a positive mean, a wide interval
    for i, (b, c) in enumerate([(1, 0), (0, 1), (1, 0), (1, 0), (1, 1), (0, 0)]):
        trials += [
            trial(f"t{i}", "baseline", passes=2 - b, fails=b),
            trial(f"t{i}", "cand", passes=2 - c, fails=c),
        ]
    decision, reasons = verdict(trials, regression_tolerance=0.8)
    assert decision == "inconclusive" and "straddles" in reasons[0]


def test_reject_when_observed_lift_is_not_above_min_lift_even_if_interval_straddles() -> None:
    trials = []  # deltas +.75, -.75, +.75, -.75, 0, 0: mean 0, a wide interval
    for i, (b, c) in enumerate([(1, 0), (0, 1), (1, 0), (0, 1), (1, 1), (0, 0)]):
        trials += [
            trial(f"t{i}", "baseline", passes=2 - b, fails=b),
            trial(f"t{i}", "cand", passes=2 - c, fails=c),
        ]
    d = decide(trials, policy=GatePolicy(regression_tolerance=0.8))
    c = d.candidates[0]
    assert c.ci_low is not None and c.ci_high is not None and c.ci_low < 0 < c.ci_high
    assert d.decision == "reject" and c.rule == "lift"
    assert "no lift above min_lift 0 (observed lift not above it)" in d.reasons[0]


def test_attempts_are_averaged_per_task() -> None:
    trials = []
    for i in range(6):
        trials += [trial(f"t{i}", "baseline", attempt=a, passes=1, fails=1) for a in range(3)]
        # candidate: 2 of 3 attempts fully pass -> mean (1 + 1 + 0.25) / 3 = 0.75
        trials += [
            trial(f"t{i}", "cand", attempt=a, passes=2 - (a == 2), fails=int(a == 2))
            for a in range(3)
        ]
    d = decide(trials)
    assert d.candidates[0].tasks[0].candidate_score == pytest.approx(0.75)
    assert d.candidates[0].tasks[0].candidate_trials == 3
    assert d.candidates[0].lift == pytest.approx(0.5)


def test_bootstrap_seed_makes_the_decision_reproducible() -> None:
    trials = trial_set(6, base_fails=1, cand_fails=0) + trial_set(
        3, prefix="u", base_fails=0, cand_fails=0
    )
    a, b = decide(trials), decide(trials)
    assert (a.candidates[0].ci_low, a.candidates[0].ci_high) == (
        b.candidates[0].ci_low,
        b.candidates[0].ci_high,
    )


# --- unscorable trials -------------------------------------------------------------------


def test_infra_failures_make_it_inconclusive_never_a_reject() -> None:
    trials = trial_set(6, base_fails=1, cand_fails=0)
    trials = [
        t.model_copy(update={"status": "infra_error", "check_results": []})
        if t.variant == "cand"
        else t
        for t in trials
    ]
    d = decide(trials)
    assert d.decision == "inconclusive" and d.exit_code == 2
    assert "6/12 trials unscorable" in d.reasons[0] and "infra_error=6" in d.reasons[0]


def test_unjudged_checks_count_as_unscorable() -> None:
    trials = trial_set(6, base_fails=1, cand_fails=0)
    trials = [
        t.model_copy(update={"check_results": [check(None)]}) if t.variant == "cand" else t
        for t in trials
    ]
    decision, reasons = verdict(trials)
    assert decision == "inconclusive" and "unjudged=6" in reasons[0]


def test_few_unscorable_trials_are_reported_apart_and_excluded() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    trials.append(trial("t00", "cand", attempt=1, status="agent_error", fails=2, passes=0))
    d = decide(trials)
    assert d.decision == "accept"
    row = d.candidates[0].tasks[0]
    assert (row.candidate_score, row.candidate_unscorable, row.candidate_trials) == (1.0, 1, 2)
    assert next(m for m in d.metrics if m.variant == "cand").unscorable == 1


# --- per-task regression block, frozen suite ----------------------------------------------


def test_per_task_regression_rejects_despite_positive_mean() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    trials += [trial("t99", "baseline", passes=2), trial("t99", "cand", passes=1, fails=1)]
    d = decide(trials)
    assert d.decision == "reject"
    assert any("per-task regression: t99 dropped 1.00 -> 0.25" in r for r in d.reasons)
    assert d.candidates[0].lift is not None and d.candidates[0].lift > 0
    assert [r.task_id for r in d.candidates[0].tasks if r.regressed] == ["t99"]


def test_drop_within_tolerance_is_allowed() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0, attempts=2)
    for a in range(2):
        trials += [
            trial("t99", "baseline", attempt=a, passes=2),
            trial("t99", "cand", attempt=a, passes=1, fails=1),
        ]
    decision, _ = verdict(trials, regression_tolerance=0.8)
    assert decision == "accept"


def test_frozen_suite_must_not_regress_at_all() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    trials += trial_set(2, prefix="f", split="frozen", base_fails=0, cand_fails=0)
    assert verdict(trials)[0] == "accept"
    trials += [
        trial("f9", "baseline", split="frozen", passes=2),
        trial("f9", "cand", split="frozen", passes=1, fails=1),
    ]
    decision, reasons = verdict(trials, regression_tolerance=0.9)
    assert decision == "reject" and any("frozen suite regressed: f9" in r for r in reasons)


# --- cost guard ----------------------------------------------------------------------------


def test_cost_guard_tokens() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    trials = [
        t.model_copy(update={"tokens": t.tokens.model_copy(update={"output": 400})})
        if t.variant == "cand"
        else t
        for t in trials
    ]  # 450 vs 100 tokens
    decision, reasons = verdict(trials)
    assert decision == "reject" and any("tokens per trial is 4.50x" in r for r in reasons)
    assert verdict(trials, max_token_ratio=5.0)[0] == "accept"
    assert verdict(trials, max_token_ratio=None)[0] == "accept"


def test_cost_guard_time() -> None:
    trials = [
        t.model_copy(update={"duration_sec": 30.0}) if t.variant == "cand" else t
        for t in trial_set(8, base_fails=1, cand_fails=0)
    ]
    decision, reasons = verdict(trials)
    assert decision == "reject" and any("time per trial is 3.00x" in r for r in reasons)


# --- leakage guard -------------------------------------------------------------------------


def test_task_both_train_and_heldout_is_an_error() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    trials.append(trial("t03", "cand", attempt=5, split="train"))
    with pytest.raises(GateError, match="t03 is both heldout and train"):
        decide(trials)


def test_candidate_derived_from_a_heldout_task_is_an_error() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    with pytest.raises(GateError, match="cand was derived from heldout task"):
        decide(trials, derived_from={"cand": ["t02", "x1"]})
    leaked = [
        t.model_copy(update={"derived_from": ["t05"]}) if t.variant == "cand" else t for t in trials
    ]
    with pytest.raises(GateError, match="t05"):
        decide(leaked)


def test_train_tasks_never_count_as_heldout() -> None:
    trials = trial_set(3, base_fails=1, cand_fails=0)
    trials += trial_set(10, prefix="tr", split="train", base_fails=1, cand_fails=0)
    d = decide(trials, derived_from={"cand": ["tr00", "tr01"]})
    assert d.decision == "inconclusive"
    assert "too few heldout tasks to decide: 3" in d.reasons[0] and "need 5" in d.reasons[0]


# --- too few tasks or attempts ---------------------------------------------------------------


def test_too_few_attempts_is_inconclusive_saying_how_many() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0, attempts=2)
    decision, reasons = verdict(trials, min_attempts=3)
    assert decision == "inconclusive"
    assert (
        "min_attempts rule: 0 heldout tasks with >= 3 scorable attempt(s) per variant"
        in (reasons[0])
    )
    assert "need 5 before an accept" in reasons[0] and "lift rule alone would accept" in reasons[0]


# --- structural check of candidate skill files ---------------------------------------------


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"SKILL.md": "# Brief\n\n## Key Risks\nx\n"}, "no YAML frontmatter"),
        (
            {"SKILL.md": "---\nname: brief-writer\n---\n# Brief\n## Key Risks\n"},
            "lacks a description",
        ),
        (
            {"SKILL.md": GOOD_SKILL.replace("## Key Risks\n", "")},
            "required section(s) removed: Key Risks",
        ),
        ({"SKILL.md": GOOD_SKILL + "x" * 60_000}, "byte limit"),
    ],
)
def test_malformed_candidate_skill_rejects(files: dict[str, str], needle: str) -> None:
    d = decide(
        trial_set(8, base_fails=1, cand_fails=0),
        candidate_files={"cand": files},
        baseline_files={"SKILL.md": GOOD_SKILL},
    )
    assert d.decision == "reject" and any(needle in r for r in d.reasons), d.reasons


def test_sound_candidate_skill_passes_structure(shared_fixtures: Path) -> None:
    seed = shared_fixtures / "gbrain-evals/skillopt-v1/seed-missing-structure/SKILL.md"
    improved = seed.read_text() + "\n## Key Risks\nList two.\n"
    d = decide(
        trial_set(8, base_fails=1, cand_fails=0),
        candidate_files={"cand": {"SKILL.md": improved}},
        baseline_files={"SKILL.md": seed.read_text()},
    )
    assert d.decision == "accept", d.reasons


# --- several candidates ------------------------------------------------------------------------


def test_best_accepted_candidate_is_chosen() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    for i in range(8):  # a second, weaker candidate: 0.25 -> 0.25 on half the tasks
        fails = 0 if i % 2 else 1
        trials.append(trial(f"t{i:02d}", "cand2", passes=2 - fails, fails=fails))
    d = decide(trials)
    assert d.decision == "accept" and d.chosen == "cand"
    assert {c.candidate: c.decision for c in d.candidates}["cand"] == "accept"


def test_reject_only_when_every_candidate_rejects() -> None:
    trials = trial_set(8, base_fails=0, cand_fails=0)
    trials += [
        t.model_copy(update={"variant": "other", "status": "infra_error"})
        for t in trials
        if t.variant == "cand"
    ]
    d = decide(trials)
    assert {c.candidate: c.decision for c in d.candidates} == {
        "cand": "reject",
        "other": "inconclusive",
    }
    assert d.decision == "inconclusive"


def test_bad_inputs_raise_gate_error() -> None:
    with pytest.raises(GateError):
        decide([])
    with pytest.raises(GateError, match="baseline variant 'base' has no trials"):
        decide(trial_set(2), baseline="base")
    with pytest.raises(GateError, match="no candidate"):
        decide([trial("t", "baseline")])


def test_cost_guard_ignores_unscorable_trials() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)
    # Two crashed baseline trials with no tokens would halve-ish the baseline's mean cost.
    trials += [
        trial(f"t0{i}", "baseline", attempt=1, status="infra_error", tokens=0, duration=0.0)
        for i in range(2)
    ]
    decision, reasons = verdict(trials, max_token_ratio=1.05, max_time_ratio=1.05)
    assert decision == "accept", reasons


# --- issue 13: an honest gate for real models --------------------------------------------------


def test_three_tasks_one_attempt_is_a_wide_interval_said_plainly() -> None:
    """The issue's case: 0.125 -> 1.0 on three tasks, one trial each, used to be [+.875, +.875]."""
    trials = []
    for i in range(3):
        trials += [
            trial(f"t{i}", "baseline", passes=1, fails=3),  # hard 0, soft 0.25: mixed 0.125
            trial(f"t{i}", "cand", passes=2),
        ]
    d = decide(trials, policy=GatePolicy(min_heldout_tasks=3))
    c = d.candidates[0]
    assert c.lift == pytest.approx(0.875) and c.ci_high == pytest.approx(0.875)
    assert c.ci_low is not None and c.ci_low < 0.1  # one attempt each proves little
    assert any(
        r.startswith("cand: one attempt per task: there is no within-task") for r in d.reasons
    )
    live = decide(trials, policy=GatePolicy(min_heldout_tasks=3), model_mode="live")
    assert live.decision == "inconclusive" and live.candidates[0].rule == "min-attempts"


def test_decision_text_names_the_rule_with_its_numbers() -> None:
    d = decide(trial_set(8, base_fails=1, cand_fails=0, attempts=2))
    assert d.candidates[0].rule == "lift"
    first = d.reasons[0]
    assert first.startswith("cand: lift rule: heldout lift +0.750, 95% CI [+0.")
    assert "over 8 tasks, 2 attempts per task and variant" in first
    assert first.endswith("lower bound above min_lift 0")
    assert not any("one attempt per task" in r for r in d.reasons)


def test_per_task_pass_rates_carry_jeffreys_intervals() -> None:
    trials = trial_set(6, base_fails=1, cand_fails=0, attempts=2)
    trials += [trial("t06", "baseline", attempt=a, passes=2 - a, fails=a) for a in range(2)]
    trials += [trial("t06", "cand", attempt=a, passes=2) for a in range(2)]
    row = next(r for r in decide(trials).candidates[0].tasks if r.task_id == "t06")
    assert row.baseline_pass_rate == 0.5 and row.candidate_pass_rate == 1.0
    assert row.baseline_pass_ci == pytest.approx(jeffreys_interval(1, 2))
    low, high = row.baseline_pass_ci or (0.0, 0.0)
    assert low == pytest.approx(1.0 - high) and 0.0 < low < 0.1  # Beta(3/2, 3/2) is symmetric
    assert row.candidate_pass_ci == pytest.approx((jeffreys_interval(2, 2)[0], 1.0))


@pytest.mark.parametrize("mode", ["live", "record"])
def test_min_attempts_under_a_real_model_makes_an_accept_inconclusive(mode: str) -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0)  # one attempt per task
    assert decide(trials).decision == "accept"  # scripted / unset: today's default of 1
    assert decide(trials, model_mode="replay").decision == "accept"
    d = decide(trials, model_mode=mode)  # type: ignore[arg-type]
    c = d.candidates[0]
    assert d.decision == "inconclusive" and c.rule == "min-attempts" and d.exit_code == 2
    assert d.reasons[0].startswith(
        f"cand: min_attempts rule under model mode {mode}: 0 heldout tasks with >= 2 scorable"
    )
    assert (
        "need 5 before an accept" in d.reasons[0] and "lift rule alone would accept" in d.reasons[0]
    )
    assert d.policy["model_mode"] == mode  # recorded, so the verdict can be re-derived
    # the same via the policy file, and with enough attempts it accepts
    assert decide(trials, policy=GatePolicy(model_mode=mode)).decision == "inconclusive"  # type: ignore[arg-type]
    twice = trial_set(8, base_fails=1, cand_fails=0, attempts=2)
    assert decide(twice, model_mode=mode).decision == "accept"  # type: ignore[arg-type]
    explicit = GatePolicy(min_attempts=1)
    assert decide(trials, policy=explicit, model_mode=mode).decision == "accept"  # type: ignore[arg-type]


def test_min_attempts_does_not_turn_a_reject_into_inconclusive() -> None:
    d = decide(trial_set(8, base_fails=0, cand_fails=0), model_mode="live")
    assert d.decision == "reject" and d.candidates[0].rule == "lift"


def _holm_night(*extra: str) -> list[TrialRecord]:
    """Five tasks, one attempt: 'weak' lifts 0.375 -> 1.0 (p about .03 alone); 'null' equals
    the baseline; 'strong' passes three attempts per task."""
    trials = []
    for i in range(5):
        trials.append(trial(f"t{i}", "baseline", passes=3, fails=1))  # mixed 0.375
        trials.append(trial(f"t{i}", "weak", passes=2))
        if "null" in extra:
            trials.append(trial(f"t{i}", "null", passes=3, fails=1))
        if "strong" in extra:
            trials += [trial(f"t{i}", "strong", attempt=a, passes=2) for a in range(3)]
    return trials


def test_holm_correction_turns_a_marginal_accept_inconclusive_and_says_so() -> None:
    policy = GatePolicy(confidence=0.9)  # one-sided level 0.05
    alone = decide(_holm_night(), policy=policy)
    weak = alone.candidates[0]
    assert alone.decision == "accept" and weak.p_holm is None  # one candidate: no correction
    assert weak.p_value is not None and 0.025 < weak.p_value <= 0.05
    d = decide(_holm_night("null"), policy=policy)
    by = {c.candidate: c for c in d.candidates}
    assert d.decision == "inconclusive" and by["weak"].decision == "inconclusive"
    assert by["weak"].rule == "holm" and by["null"].decision == "reject"
    assert by["weak"].p_holm == pytest.approx(2 * (by["weak"].p_value or 0))
    assert d.reasons[0].startswith(
        "weak: Holm correction over 2 candidates changed the verdict from accept to "
        f"inconclusive: p={by['weak'].p_value:.4f}, Holm-adjusted p={by['weak'].p_holm:.4f} "
        "> 0.0500"
    )
    assert any(r.startswith("weak: lift rule: ") for r in d.reasons)  # the evidence stays


def test_holm_steps_down_keeping_the_strong_candidate() -> None:
    d = decide(_holm_night("null", "strong"), policy=GatePolicy(confidence=0.9))
    by = {c.candidate: c for c in d.candidates}
    assert d.decision == "accept" and d.chosen == "strong"
    assert by["strong"].decision == "accept" and by["weak"].rule == "holm"
    assert "strong: baseline has one scorable attempt on 5 of 5 heldout tasks: " in d.reasons[1]
    assert any(
        "Holm correction over 3 candidates" in r and "verdict unchanged" in r for r in d.reasons
    )


def test_frozen_regression_still_blocks_under_live_mode_with_several_candidates() -> None:
    trials = trial_set(8, base_fails=1, cand_fails=0, attempts=2)
    trials += [t.model_copy(update={"variant": "cand2"}) for t in trials if t.variant == "cand"]
    for a in range(2):
        trials += [
            trial("f0", v, attempt=a, split="frozen", passes=2) for v in ("baseline", "cand2")
        ]
        trials.append(trial("f0", "cand", attempt=a, split="frozen", passes=1, fails=1))
    d = decide(trials, model_mode="live")
    by = {c.candidate: c for c in d.candidates}
    assert by["cand"].decision == "reject" and by["cand"].rule == "reject-guard"
    assert by["cand"].lift is not None and by["cand"].ci_low is not None and by["cand"].ci_low > 0
    assert any("frozen suite regressed: f0 dropped 1.00 -> 0.25" in r for r in by["cand"].reasons)
    assert d.decision == "accept" and d.chosen == "cand2"
