"""Pure tests (no engine is started): the profiles' screen classifier on screens captured
from the real CLIs (tests/agents/screens, claude 2.1.197 / codex 0.169.0) and on dialog
screens in the shapes PROTOCOLS.md records, and the Episode parsers on small JSONL lines in
the shapes each CLI writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controllers.profiles import parse_transcript
from controllers.profiles.base import ScreenKind
from controllers.profiles.claude import SPEC as CLAUDE
from controllers.profiles.codex import SPEC as CODEX

pytestmark = [pytest.mark.agents, pytest.mark.docker]
SCREENS = Path(__file__).with_name("screens")
SPECS = {"claude": CLAUDE, "codex": CODEX}
RULE = "─" * 80


@pytest.mark.parametrize("name,kind", [
    ("claude_idle_start", ScreenKind.IDLE),
    ("claude_busy_tool", ScreenKind.BUSY),
    ("claude_idle_after", ScreenKind.IDLE),
    ("codex_busy_tool", ScreenKind.BUSY),
    ("codex_idle_after", ScreenKind.IDLE),
    # a permission menu under the echo of the prompt ("❯ Please clean up..."), which once
    # read as idle: the turn was called done and the trial scored `failed`
    ("claude_dangerous_rm", ScreenKind.BLOCKED),
])
def test_classify_captured(name: str, kind: ScreenKind) -> None:
    spec = SPECS[name.split("_")[0]]
    assert spec.classify((SCREENS / f"{name}.txt").read_text()).kind is kind


CLAUDE_SPINNER_ONLY = f"""❯ make it
● Thinking about it.
✻ Caramelizing… (2s · ↓ 19 tokens)
{RULE}
❯
{RULE}
  ? for shortcuts
"""
CLAUDE_API_KEY = """Detected a custom API key in your environment

ANTHROPIC_API_KEY: sk-ant-...abcdefghij

Do you want to use this API key?

  1. Yes
❯ 2. No (recommended)

Enter to confirm · Esc to exit
"""
CLAUDE_BYPASS = """WARNING: Claude Code running in Bypass Permissions mode

In Bypass Permissions mode, Claude Code will not ask for your approval before running
potentially dangerous commands.

❯ 1. No, exit
  2. Yes, I accept

Enter to confirm · Esc to exit
"""
CLAUDE_UNKNOWN = """Something new the harness never saw

❯ 1. Frobnicate the workspace
  2. Leave it alone

Enter to confirm · Esc to exit
"""
CODEX_TRUST = """> You are running Codex in /workspace

  Since this folder is version controlled, you may wish to allow Codex to work in this folder
  without asking for approval.

› 1. Yes, allow Codex to work in this folder without asking for approval
  2. No, ask me to approve edits and commands

  Press enter to continue
"""
CODEX_UNKNOWN = """  Pick a flavour for your session

› 1. Vanilla
  2. Chocolate

  Press enter to continue
"""


@pytest.mark.parametrize("agent,screen,kind,dialog", [
    ("claude", CLAUDE_SPINNER_ONLY, ScreenKind.BUSY, None),
    ("claude", CLAUDE_API_KEY, ScreenKind.DIALOG, "api-key"),
    ("claude", CLAUDE_BYPASS, ScreenKind.DIALOG, "bypass-warning"),
    ("claude", CLAUDE_UNKNOWN, ScreenKind.BLOCKED, None),
    ("claude", "", ScreenKind.STARTING, None),
    ("codex", CODEX_TRUST, ScreenKind.DIALOG, "trust-directory"),
    ("codex", CODEX_UNKNOWN, ScreenKind.BLOCKED, None),
    ("codex", "  >_ OpenAI Codex (v0.169.0)\n", ScreenKind.STARTING, None),
])
def test_classify_shapes(agent: str, screen: str, kind: ScreenKind, dialog: str | None) -> None:
    st = SPECS[agent].classify(screen)
    assert st.kind is kind, (st, screen)
    if dialog is not None:
        assert st.dialog is not None and st.dialog.name == dialog
        assert "Enter" in st.dialog.keys or "Escape" in st.dialog.keys


def test_claude_api_key_dialog_picks_yes_not_default() -> None:
    st = CLAUDE.classify(CLAUDE_API_KEY)
    assert st.dialog is not None and st.dialog.keys[0] == "Up" and "Yes" in st.dialog.choice


def _jsonl(tmp: Path, lines: list[dict[str, Any]], name: str = "s.jsonl") -> Path:
    p = tmp / name
    p.write_text("\n".join(json.dumps(d) for d in lines) + "\n{cut mid-wri")
    return p


def test_parse_claude(tmp_path: Path) -> None:
    usage = {"input_tokens": 100, "output_tokens": 7, "cache_read_input_tokens": 5}
    lines: list[dict[str, Any]] = [
        {"type": "user", "sessionId": "s1", "message": {"role": "user", "content": "write f"}},
        {"type": "assistant", "message": {"id": "m1", "model": "claude-x", "usage": usage,
                                          "content": [{"type": "text", "text": "Writing."}]}},
        {"type": "assistant", "message": {"id": "m1", "model": "claude-x", "usage": usage, "content": [
            {"type": "tool_use", "id": "tu1", "name": "Bash", "input": {"command": "echo hi > f"}}]}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "tu1", "content": "ok", "is_error": False}]}},
        {"type": "assistant", "isSidechain": True, "message": {"id": "side", "content": [
            {"type": "text", "text": "a side thread"}]}},
        {"type": "assistant", "message": {"id": "m2", "usage": {"input_tokens": 120, "output_tokens": 4},
                                          "content": [{"type": "text", "text": "Done."}]}},
        {"type": "user", "message": {"role": "user", "content": "again"}},
        {"type": "assistant", "isApiErrorMessage": True, "message": {"id": "e1", "content": [
            {"type": "text", "text": "API Error: 529 Overloaded"}]}},
    ]
    ep = parse_transcript("claude", _jsonl(tmp_path, lines))
    assert ep.session_id == "s1" and ep.model == "claude-x"
    assert [t.user_text for t in ep.turns] == ["write f", "again"]
    assert ep.turns[0].final_text == "Done."
    [call] = ep.tool_calls
    assert (call.name, call.input, call.output, call.is_error) == ("Bash", {"command": "echo hi > f"}, "ok", False)
    assert ep.usage.input_tokens == 220 and ep.usage.output_tokens == 11  # m1 counted once
    assert ep.api_errors == ["API Error: 529 Overloaded"]
    assert ep.final_answer == ""


def test_parse_codex(tmp_path: Path) -> None:
    def item(p: dict[str, Any]) -> dict[str, Any]:
        return {"type": "response_item", "payload": p}

    lines: list[dict[str, Any]] = [
        {"type": "session_meta", "payload": {"id": "c1"}},
        {"type": "turn_context", "payload": {"model": "gpt-x"}},
        item({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]}),
        item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "write f"}]}),
        item({"type": "function_call", "name": "exec_command", "call_id": "call_1",
              "arguments": json.dumps({"cmd": "false"})}),
        item({"type": "function_call_output", "call_id": "call_1",
              "output": "Process exited with code 1\nOutput:\n"}),
        item({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Tried."}]}),
        {"type": "token_usage_record", "payload": {"usage": {"input_tokens": 50, "output_tokens": 3,
                                                             "cached_input_tokens": 10}}},
        {"type": "event_msg", "payload": {"type": "task_complete", "last_agent_message": "It failed."}},
        {"type": "event_msg", "payload": {"type": "error", "message": "stream disconnected: 529"}},
    ]
    ep = parse_transcript("codex", _jsonl(tmp_path, lines))
    assert ep.session_id == "c1" and ep.model == "gpt-x"
    assert [t.user_text for t in ep.turns] == ["write f"]
    [call] = ep.tool_calls
    assert call.name == "exec_command" and call.input == {"cmd": "false"} and call.is_error
    assert ep.final_answer == "It failed."
    assert (ep.usage.input_tokens, ep.usage.output_tokens, ep.usage.cached_input_tokens) == (50, 3, 10)
    assert ep.api_errors == ["stream disconnected: 529"]


def test_parse_missing_file_is_empty(tmp_path: Path) -> None:
    ep = parse_transcript("codex", tmp_path / "absent.jsonl")
    assert ep.turns == [] and ep.final_answer == ""
