"""The rubric check against a scripted Anthropic-Messages stub over real HTTP."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from judge_stub import JudgeStub

from gate.checks import evaluate
from gate.checks.base import CheckContext
from gate.checks.rubric import JudgeReplyError, parse_judge_reply
from gate.models import TrialEvidence

SPEC = {"op": "rubric", "rubric": "Score 1.0 if all four headings are present.", "threshold": 0.6}
EV = TrialEvidence(final_answer="COMPETITOR MOVES: x\nBACKLINK OPPORTUNITIES: y")


def ctx(base_url: str | None, tmp_path: Path, **kw: Any) -> CheckContext:
    return CheckContext(
        judge_base_url=base_url,
        judge_cache_dir=tmp_path / "cache",
        judge_retry_wait_sec=0.01,
        judge_timeout_sec=5,
        **kw,
    )


def test_score_and_reason_parsed_and_threshold_applied(tmp_path: Path) -> None:
    with JudgeStub([(200, '{"score": 0.5, "reason": "two headings missing"}')]) as stub:
        r = evaluate(SPEC, EV, ctx(stub.base_url, tmp_path))
    assert r.passed is False and r.score == 0.5 and "two headings missing" in r.reason
    sent = stub.requests[0]
    assert sent["path"] == "/v1/messages"
    assert SPEC["rubric"] in sent["body"]["messages"][0]["content"]
    assert EV.final_answer in sent["body"]["messages"][0]["content"]


def test_verdict_cached_by_content_hash(tmp_path: Path) -> None:
    with JudgeStub([(200, '{"score": 0.9, "reason": "good"}')]) as stub:
        c = ctx(stub.base_url, tmp_path)
        first = evaluate(SPEC, EV, c)
        second = evaluate(SPEC, EV, c)
        assert len(stub.requests) == 1
        evaluate(SPEC, TrialEvidence(final_answer="another answer"), c)
        assert len(stub.requests) == 2
    assert first == second and first.passed is True
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


def test_transient_errors_retried_then_succeed(tmp_path: Path) -> None:
    script = [(500, "overloaded"), (529, "overloaded"), (200, '{"score": 1, "reason": "ok"}')]
    with JudgeStub(script) as stub:
        r = evaluate(SPEC, EV, ctx(stub.base_url, tmp_path, judge_max_attempts=3))
    assert r.passed is True and len(stub.requests) == 3


def test_retries_are_bounded_then_unscorable(tmp_path: Path) -> None:
    with JudgeStub([(500, "down")]) as stub:
        r = evaluate(SPEC, EV, ctx(stub.base_url, tmp_path, judge_max_attempts=2))
    assert r.passed is None and "unreachable" in r.reason and len(stub.requests) == 2
    assert not list((tmp_path / "cache").glob("*.json"))  # failures are never cached


def test_unreachable_judge_is_unscorable_not_failed(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = evaluate(SPEC, EV, ctx(f"http://127.0.0.1:{port}", tmp_path, judge_max_attempts=2))
    assert r.passed is None and "unreachable" in r.reason


def test_unparseable_reply_is_unscorable(tmp_path: Path) -> None:
    with JudgeStub([(200, "I think it is pretty good!")]) as stub:
        r = evaluate(SPEC, EV, ctx(stub.base_url, tmp_path, judge_max_attempts=2))
    assert r.passed is None and "unusable" in r.reason and len(stub.requests) == 2


def test_no_judge_configured_is_unscorable(tmp_path: Path) -> None:
    assert evaluate(SPEC, EV, ctx(None, tmp_path)).passed is None


def test_model_override_is_sent(tmp_path: Path) -> None:
    with JudgeStub([(200, '{"score": 1, "reason": "ok"}')]) as stub:
        evaluate({**SPEC, "model": "judge-x"}, EV, ctx(stub.base_url, tmp_path))
    assert stub.requests[0]["body"]["model"] == "judge-x"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"score": 0.7, "reason": "r"}', (0.7, "r")),
        ('```json\n{"score": "0.4", "rationale": "r2"}\n```', (0.4, "r2")),
        ('Here you go: {"score": 3, "reason": "x"} thanks', (1.0, "x")),
        ('{"score": -1}', (0.0, "")),
    ],
)
def test_parse_judge_reply(text: str, want: tuple[float, str]) -> None:
    assert parse_judge_reply(text) == want


@pytest.mark.parametrize("text", ["", "no json", '{"reason": "no score"}', '{"score": "high"}'])
def test_parse_judge_reply_rejects(text: str) -> None:
    with pytest.raises(JudgeReplyError):
        parse_judge_reply(text)


def test_skillopt_sleep_rubrics_validate_and_reach_the_judge(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    import json

    from gate.checks import validate_checks

    tasks = [
        t
        for f in sorted((shared_fixtures / "skillopt-sleep").glob("*.json"))
        for t in json.loads(f.read_text())
    ]
    specs = [{"op": "rubric", "rubric": t["rubric"], "name": t["id"]} for t in tasks]
    assert len(specs) >= 10 and validate_checks(specs, "skillopt-sleep") == []
    # SkillOpt-Sleep rubrics grade 1.0 / 0.5 / 0.0; the default threshold counts 0.5 as a pass.
    with JudgeStub(
        [
            (200, '{"score": 0.5, "reason": "headings present, content generic"}'),
            (200, '{"score": 0.0, "reason": "wrong format"}'),
        ]
    ) as stub:
        c = ctx(stub.base_url, tmp_path)
        half = evaluate(specs[0], EV, c)
        zero = evaluate(specs[1], EV, c)
    assert (half.passed, zero.passed) == (True, False)
    assert tasks[0]["rubric"] in stub.requests[0]["body"]["messages"][0]["content"]
    assert half.name == tasks[0]["id"]
