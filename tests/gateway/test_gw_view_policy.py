"""Request views and the scripted policy: parsing, located errors, matching, retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from gw_helpers import codex_request

from harness.errors import ValidationFailed
from harness.gateway.policy import ScriptState, load_policy, parse_policy
from harness.gateway.trials import TrialKey, TrialState
from harness.gateway.view import parse_skills
from harness.gateway.wires.anthropic import parse as view_anthropic
from harness.gateway.wires.openai_responses import parse as view_openai

CLAUDE_SKILLS = (
    "<system-reminder>\nThe following skills are available for use with the Skill tool:\n\n"
    "- greeter: Greets people warmly.\n- verify: Verify a change.\n</system-reminder>"
)


def claude_request(*turns: str, results: list[str] | None = None) -> dict:
    msgs: list[dict] = []
    for i, t in enumerate(turns):
        content = [{"type": "text", "text": CLAUDE_SKILLS}] if i == 0 else []
        content.append({"type": "text", "text": t})
        msgs.append({"role": "user", "content": content})
        if i < len(turns) - 1 or results:
            msgs.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    for r in results or []:
        msgs[-1]["content"].append({"type": "tool_use", "id": "t", "name": "Bash", "input": {}})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": r}]})
        msgs.append({"role": "assistant", "content": [{"type": "text", "text": "."}]})
    if results:
        msgs.pop()
    return {"model": "m", "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": msgs, "tools": [{"name": "Bash"}, {"name": "Skill"}], "stream": True}


def test_claude_view_strips_reminders_and_finds_skills() -> None:
    v = view_anthropic(claude_request("create hello.txt"))
    assert v.kind == "main" and v.user_text == "create hello.txt" and v.step == 0
    assert v.skill_names == ("greeter", "verify")
    assert v.system == "You are Claude Code."
    assert v.tools == ("Bash", "Skill")


def test_claude_view_counts_tool_rounds_and_reads_results() -> None:
    v = view_anthropic(claude_request("first", "second", results=["out1", "out2"]))
    assert v.user_text == "second" and v.human_messages == 2
    assert v.step == 2 and v.tool_results == ("out2",)


def test_claude_title_request_is_recognised() -> None:
    body = {"model": "m", "tools": [], "system": "Generate a title. Return JSON.",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "<session>\nhi\n</session>\n\nWrite the title"}]}]}
    assert view_anthropic(body).kind == "title"
    assert view_anthropic(body, count_tokens=True).kind == "count_tokens"


def test_codex_view_skips_context_messages() -> None:
    v = view_openai(codex_request("make a file", outputs=["Process exited with code 0"]))
    assert v.user_text == "make a file" and v.human_messages == 1
    assert v.step == 1 and v.tool_results == ("Process exited with code 0",)
    assert v.skills == (("greeter", "Greets people."),)
    assert v.kind == "main"


def test_codex_title_request_is_recognised() -> None:
    body = codex_request("Generate a concise, single-line task title of at most 36 "
                         "characters.\n\nUser prompt:\nhi", tools=False)
    assert view_openai(body).kind == "title"


def test_parse_skills_stops_at_end_of_list() -> None:
    text = CLAUDE_SKILLS + "\n- not-a-skill: after the list"
    assert [n for n, _ in parse_skills(text)] == ["greeter", "verify"]


def test_bad_policy_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\nrules:\n  - match: {user: \"(\"}\n    reply: {text: a}\n"
                 "  - reply: {}\n  - reply: {text: a, bogus: 1}\n"
                 "  - reply: {calls: [{shell: x, tool: y}]}\n")
    with pytest.raises(ValidationFailed) as ei:
        load_policy(p)
    lines = [str(e) for e in ei.value.errors]
    assert lines[0].startswith(f"{p}:3: rules.0.match.user: bad regex")
    assert lines[1].startswith(f"{p}:5: rules.1.reply")
    assert lines[2].startswith(f"{p}:6: rules.2.reply.bogus")
    assert lines[3].startswith(f"{p}:7: rules.3.reply.calls.0")
    assert len(lines) == 4


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = tmp_path / "syntax.yaml"
    p.write_text("rules:\n  - reply: {text: a}\n  - reply: [unclosed\n")
    with pytest.raises(ValidationFailed) as ei:
        load_policy(p)
    assert str(ei.value.errors[0]).startswith(f"{p}:4:") or \
        str(ei.value.errors[0]).startswith(f"{p}:3:")


def test_missing_policy_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="missing.yaml"):
        load_policy(tmp_path / "missing.yaml")


POLICY = """
rules:
  - name: once
    match: {user: go, turn: 1}
    times: 1
    fault: {status: 529, first: 2}
    reply: {text: first}
  - name: by-regex-turn
    match: {turn: "[2-9]"}
    reply: {text: later}
  - name: skill
    match: {skill: "^greeter:"}
    reply: {shell: "echo hi"}
"""


def test_first_n_faults_then_reply_and_retry_keeps_rule() -> None:
    state = ScriptState(parse_policy(POLICY))
    v = view_anthropic(claude_request("go"))
    got = [state.decide(v, 1) for _ in range(3)]
    assert [d.rule_name for d in got] == ["once", "once", "once"]
    assert [d.fault.status if d.fault else None for d in got] == [529, 529, None]
    assert state.decide(v, 2).rule_name == "by-regex-turn"
    fresh = ScriptState(parse_policy(POLICY))
    assert fresh.decide(view_anthropic(claude_request("other")), 1).rule_name == "skill"


def test_turn_counter_ignores_retries_and_tool_rounds() -> None:
    st = TrialState(TrialKey("t", "k"), None)
    one = view_anthropic(claude_request("a"))
    assert [st.turn_for(one), st.turn_for(one)] == [1, 1]
    assert st.turn_for(view_anthropic(claude_request("a", results=["r"]))) == 1
    assert st.turn_for(view_anthropic(claude_request("a", "b"))) == 2
