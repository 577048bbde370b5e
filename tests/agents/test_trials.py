"""Whole trials through ``run_trial`` on the real CLIs: the installed skill reaches the
model, an overloaded (529) model is retried by the CLI, and a model that never recovers makes
the trial ``infra_error`` with the API error as its reason -- never ``failed``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_rig import MODELS, EnvProfile, Rig, empty_task, skill_variant

from controllers.profiles.base import Variant
from harness.providers.docker import DockerProvider
from harness.runner.paths import RunPaths
from harness.runner.trial import TrialEnv, TrialOutcome, TrialPlan, run_trial

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

SKILL_NAME = "tide-tables"
SKILL_DESC = "Reads tide tables for sailors in the harbour."


def _trial(rig: Rig, tmp: Path, policy: dict[str, Any], *, variant: Variant | None = None,
           timeout_sec: int = 150, checks: list[dict[str, Any]] | None = None,
           profile: Any = None) -> TrialOutcome:
    rig.warm.reset()
    task = empty_task("agents-trial", prompt="Say hello to the harbour.", policy=policy,
                      timeout_sec=timeout_sec,
                      checks=checks if checks is not None else [{"op": "contains", "value": "ahoy"}])
    env = TrialEnv(run_id=rig.trial_id("run"), paths=RunPaths(tmp, "run"), agent=rig.agent,
                   profile=profile or rig.profile, model=MODELS[rig.agent], gateway=rig.gateway,
                   provider=DockerProvider(rig.client))
    return run_trial(env, TrialPlan(task, variant or Variant("baseline"), 0), rig.warm)


def _trial_id(rig: Rig, out: TrialOutcome) -> str:
    r = out.record
    return f"{r.run_id}/{r.task_id}/{r.variant}/{r.attempt}"


def test_skill_name_reaches_gateway(rig: Rig, tmp_path: Path) -> None:
    policy = {"version": 1, "rules": [
        {"name": "skilled", "match": {"skill": SKILL_NAME}, "reply": {"text": "Ahoy, I know the tides."}},
    ], "default": {"text": "No skill seen."}}
    out = _trial(rig, tmp_path, policy, variant=skill_variant(SKILL_NAME, SKILL_DESC))
    assert out.record.status == "passed", out.record.reason
    mains = [x for x in rig.gateway.exchanges(_trial_id(rig, out)) if x.kind == "main"]
    assert mains, "no main request reached the Gateway"
    body = str(mains[0].request)
    assert SKILL_NAME in body and SKILL_DESC in body, "the skill's name is not in the request body"
    assert any(SKILL_NAME in s for s in mains[0].view.skills)


def test_529_once_is_retried(rig: Rig, tmp_path: Path) -> None:
    policy = {"version": 1, "rules": [
        {"name": "flaky", "match": {"user": "harbour"}, "fault": {"status": 529, "first": 1},
         "reply": {"text": "Ahoy after a retry."}},
    ]}
    out = _trial(rig, tmp_path, policy)
    assert out.record.status == "passed", out.record.reason
    statuses = [x.status for x in rig.gateway.exchanges(_trial_id(rig, out)) if x.kind == "main"]
    assert statuses[0] == 529 and statuses[-1] == 200, statuses


def test_529_always_is_infra_error(rig: Rig, tmp_path: Path) -> None:
    policy = {"version": 1, "rules": [
        {"name": "down", "match": {"user": "harbour"},
         "fault": {"status": 529, "message": "Overloaded (injected)", "retry_after_sec": 0}, "reply": {"text": "never sent"}},
    ]}
    # claude retries 10 times with a growing backoff (3 minutes); two retries prove the point
    few = EnvProfile(rig.profile, {"CLAUDE_CODE_MAX_RETRIES": "2"}) if rig.agent == "claude" else None
    # gemini retries 10 times with backoff up to 30 s (about 4 minutes) and has no env knob:
    # the trial's deadline ends it sooner, and a deadline over failing requests is infra too
    out = _trial(rig, tmp_path, policy, timeout_sec=75 if rig.agent == "gemini" else 240,
                 profile=few)
    assert out.record.status == "infra_error", (out.record.status, out.record.reason, out.extra)
    assert "529" in out.record.reason or "verloaded" in out.record.reason, out.record.reason
    statuses = [x.status for x in rig.gateway.exchanges(_trial_id(rig, out)) if x.kind == "main"]
    assert len(statuses) >= 2 and set(statuses) == {529}, f"the CLI did not retry: {statuses}"
