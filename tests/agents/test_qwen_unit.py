"""Pure tests of the Qwen Code profile (no engine): its screen classifier on screens captured
from the real CLI 0.24.4 (tests/agents/screens/qwen_*), its transcript parser on a session
file the real CLI wrote (tests/agents/sessions), and the settings it seeds (every background
model call off, the Stop hook on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controllers.profiles import parse_transcript
from controllers.profiles.base import AGENT_HOME, HOOK_PATH, LaunchContext, ScreenKind
from controllers.profiles.qwen import SPEC, QwenProfile

pytestmark = [pytest.mark.agents]
HERE = Path(__file__).parent
CTX = LaunchContext(gateway_url="http://127.0.0.1:48100", api_key="hk-trial-key",
                    model="qwen3-coder-plus", workdir="/workspace", tmux_socket="/tmp/s")


@pytest.mark.parametrize("name,kind", [
    ("qwen_idle_start", ScreenKind.IDLE),
    # the tool ran, the next reply is streaming: the input box stays drawn, the spinner vetoes
    ("qwen_busy_after_tool", ScreenKind.BUSY),
])
def test_classify_captured(name: str, kind: ScreenKind) -> None:
    assert SPEC.classify((HERE / "screens" / f"{name}.txt").read_text()).kind is kind


def test_parse_a_real_session() -> None:
    ep = parse_transcript("qwen", HERE / "sessions" / "qwen-0.24.4.jsonl")
    assert ep.session_id == "21a92e71-6f93-48ee-b18b-1012cfea1254" and ep.model == "qwen3-coder-plus"
    # system records (snapshots, ui telemetry) and tool_result records are no turns
    assert [t.user_text for t in ep.turns] == ["Please update the harbour notes."]
    (call,) = ep.tool_calls
    assert call.name == "run_shell_command" and call.input["command"].startswith("echo ships: 3")
    assert "Output: ships: 3" in call.output and not call.is_error
    assert ep.final_answer == "Ahoy: done."
    assert (ep.usage.input_tokens, ep.usage.output_tokens) == (40716, 14)


def test_failed_calls_api_errors_and_a_cut_line(tmp_path: Path) -> None:
    call = {"functionCall": {"id": "c1", "name": "run_shell_command", "args": {"command": "false"}}}
    lines = [
        {"sessionId": "s1", "type": "user", "provenance": "real_user", "message": {"parts": [{"text": "go"}]}},
        {"type": "assistant", "model": "m", "message": {"parts": [{"text": "Trying."}, call]},
         "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2}},
        {"type": "tool_result", "message": {"parts": [{"functionResponse": {
            "id": "c1", "response": {"error": "Exit Code: 1"}}}]}, "toolCallResult": {"status": "error"}},
        {"type": "system", "subtype": "ui_telemetry", "systemPayload": {"uiEvent": {
            "event.name": "qwen-code.api_error", "error": "529 Overloaded"}}},
    ]
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"type": "assi')
    ep = parse_transcript("qwen", f)
    (c,) = ep.tool_calls
    assert (c.output, c.is_error) == ("Exit Code: 1", True)
    assert ep.api_errors == ["529 Overloaded"] and ep.final_answer == "" and ep.usage.input_tokens == 10


def test_seeded_settings_select_openai_auth_the_hook_and_no_side_calls() -> None:
    files = QwenProfile().config_files(CTX)
    s = json.loads(str(files[f"{AGENT_HOME}/.qwen/settings.json"][0]))
    assert s["security"]["auth"]["selectedType"] == "openai"
    assert s["hooks"]["Stop"][0]["hooks"][0]["command"] == f"{HOOK_PATH} qwen-stop"
    assert s["context"]["fileName"] == ["QWEN.md", "AGENTS.md"]
    off = [s["privacy"]["usageStatisticsEnabled"], s["general"]["enableAutoUpdate"],
           s["ui"]["enableFollowupSuggestions"], s["ui"]["enableSpeculation"],
           s["memory"]["enableManagedAutoMemory"], s["memory"]["enableManagedAutoDream"],
           s["telemetry"]["enabled"], s["ide"]["enabled"]]
    assert off == [False] * len(off)
    launch = QwenProfile().launch(CTX)
    assert launch.env["OPENAI_BASE_URL"] == "http://127.0.0.1:48100/v1"
    assert launch.env["OPENAI_API_KEY"] == CTX.api_key and launch.env["OPENAI_MODEL"] == CTX.model
    assert launch.argv[:3] == ["qwen", "--model", "qwen3-coder-plus"]
