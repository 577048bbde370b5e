"""A trial's phases and their own timeout errors (the phases' behaviour is proven by the
runner's docker tests; these pin the error types a log or a caller can tell apart)."""

from __future__ import annotations

import pytest

from harness.errors import (
    CheckTimeout,
    CollectTimeout,
    DriveTimeout,
    ExecTimeout,
    HarnessError,
    LaunchTimeout,
    PhaseTimeout,
    SetupTimeout,
    WaitTimeout,
)
from harness.runner.trial import Trial, _phase

PHASES = [SetupTimeout, LaunchTimeout, DriveTimeout, CollectTimeout, CheckTimeout]


@pytest.mark.parametrize("err", PHASES)
def test_each_phase_has_its_own_one_line_timeout(err: type[PhaseTimeout]) -> None:
    e = err("timed out after 5s waiting for the prompt")
    assert isinstance(e, PhaseTimeout) and isinstance(e, HarnessError)
    assert [o for o in PHASES if isinstance(e, o)] == [err]  # no phase's error is another's
    assert "\n" not in e.one_line() and e.one_line().startswith(err.what)


def test_a_wait_that_times_out_inside_a_phase_is_that_phase_s_timeout() -> None:
    with pytest.raises(LaunchTimeout) as got, _phase(LaunchTimeout):
        raise WaitTimeout("the idle prompt", 90, screen="Welcome to the CLI\n> ")
    assert "waiting for the idle prompt" in got.value.one_line()
    assert got.value.screen.startswith("Welcome") and isinstance(got.value.__cause__, WaitTimeout)
    with pytest.raises(CollectTimeout), _phase(CollectTimeout):
        raise ExecTimeout("git snapshot report ran out of time")
    with pytest.raises(ValueError), _phase(SetupTimeout):  # other errors pass as they are
        raise ValueError("not a timeout")


def test_the_drive_deadline_keeps_the_trial_reason() -> None:
    assert DriveTimeout.after(240).one_line() == "trial timeout after 240s"


def test_a_trial_is_its_phases() -> None:
    for phase in ("set_up", "launch", "drive", "collect", "check"):
        assert callable(getattr(Trial, phase))
