"""Checks on what the agent did: tool calls, turns and tokens.

A tool name matches exactly, or as the last ``__`` segment of an MCP name
(``mcp__brain__search`` matches ``search``), because the same skill is replayed through
CLIs that namespace MCP tools differently. ``tool_called`` ignores calls that errored
(gbrain-evals: a failed search is not a search); ``tool_not_called`` counts every attempt.
``args_match`` is searched in the call's input serialised as JSON with sorted keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from gate.checks.base import (
    BaseCheck,
    CheckContext,
    Param,
    Verdict,
    clip,
    compile_regex,
    regex_problem,
)
from gate.models import ToolCall, TrialEvidence


def tool_matches(call: ToolCall, tool: str, args_match: str | None) -> bool:
    """Does this call count as ``tool`` (with the optional input regex)?"""
    if not (call.name == tool or call.name.endswith(f"__{tool}")):
        return False
    if args_match is None:
        return True
    blob = json.dumps(call.input, sort_keys=True, ensure_ascii=False)
    return compile_regex(args_match).search(blob) is not None


class ToolCalled(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "tool": Param("str"),
        "args_match": Param("str", required=False, default=None),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = regex_problem(args.get("args_match"))
        return [("args_match", problem)] if problem else []

    def _hits(self, args: Mapping[str, Any], evidence: TrialEvidence, ok_only: bool) -> int:
        return sum(
            1
            for c in evidence.tool_calls
            if (not ok_only or not c.is_error) and tool_matches(c, args["tool"], args["args_match"])
        )

    def _what(self, args: Mapping[str, Any]) -> str:
        extra = f" with input ~ /{args['args_match']}/" if args["args_match"] else ""
        return f"{args['tool']!r}{extra}"

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = self._hits(args, evidence, ok_only=True)
        if n:
            return Verdict.of(True, f"{self._what(args)} called {n} time(s)")
        errored = self._hits(args, evidence, ok_only=False)
        seen = sorted({c.name for c in evidence.tool_calls})
        tail = f"; {errored} call(s) errored" if errored else ""
        return Verdict.of(
            False,
            f"{self._what(args)} never called successfully{tail}; "
            f"tools seen: {clip(', '.join(seen) or 'none', 120)}",
        )


class ToolNotCalled(ToolCalled):
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = self._hits(args, evidence, ok_only=False)
        return Verdict.of(n == 0, f"{self._what(args)} called {n} time(s)")


class MaxTurns(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"value": Param("int", minimum=0)}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = evidence.turns
        return Verdict.of(n <= args["value"], f"{n} turn(s) (max {args['value']})")


class MaxTokens(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"value": Param("int", minimum=0)}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = evidence.input_tokens + evidence.output_tokens
        return Verdict.of(n <= args["value"], f"{n} token(s) (max {args['value']})")
