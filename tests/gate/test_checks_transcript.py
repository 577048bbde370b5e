"""Transcript checks: tool calls with argument matches, turns and tokens."""

from __future__ import annotations

from gate.checks import evaluate
from gate.models import ToolCall, TrialEvidence

CALLS = (
    ToolCall("Bash", {"command": "pytest -q"}, "1 passed"),
    ToolCall("mcp__brain__search", {"query": "free tier"}, "[]"),
    ToolCall("Edit", {"file_path": "src/app.py"}, "", is_error=True),
)
EV = TrialEvidence(tool_calls=CALLS, turns=7, input_tokens=900, output_tokens=100)


def test_tool_called_exact_and_mcp_suffix() -> None:
    assert evaluate({"op": "tool_called", "tool": "Bash"}, EV).passed is True
    assert evaluate({"op": "tool_called", "tool": "search"}, EV).passed is True
    assert evaluate({"op": "tool_called", "tool": "Write"}, EV).passed is False


def test_tool_called_ignores_errored_calls() -> None:
    r = evaluate({"op": "tool_called", "tool": "Edit"}, EV)
    assert r.passed is False and "1 call(s) errored" in r.reason


def test_tool_called_args_match_regex_on_json_input() -> None:
    assert evaluate({"op": "tool_called", "tool": "Bash", "args_match": r"pytest\b"}, EV).passed
    assert not evaluate({"op": "tool_called", "tool": "Bash", "args_match": "rm -rf"}, EV).passed
    spec = {"op": "tool_called", "tool": "search", "args_match": '"query": "free'}
    assert evaluate(spec, EV).passed


def test_tool_not_called_counts_errored_attempts_too() -> None:
    assert evaluate({"op": "tool_not_called", "tool": "Edit"}, EV).passed is False
    assert evaluate({"op": "tool_not_called", "tool": "WebFetch"}, EV).passed is True
    spec = {"op": "tool_not_called", "tool": "Bash", "args_match": "git push"}
    assert evaluate(spec, EV).passed is True


def test_max_turns_and_tokens_inclusive() -> None:
    assert evaluate({"op": "max_turns", "value": 7}, EV).passed is True
    assert evaluate({"op": "max_turns", "value": 6}, EV).passed is False
    assert evaluate({"op": "max_tokens", "value": 1000}, EV).passed is True
    r = evaluate({"op": "max_tokens", "value": 999}, EV)
    assert r.passed is False and "1000 token(s)" in r.reason
