"""Pure tests of the Gemini CLI profile (no engine): its screen classifier on screens
captured from the real CLI 0.61.0 (tests/agents/screens/gemini_*), its transcript parser on a
session file the real CLI wrote (tests/agents/sessions), and the files it seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controllers.profiles import parse_transcript
from controllers.profiles.base import AGENT_HOME, HOOK_PATH, LaunchContext, ScreenKind
from controllers.profiles.gemini import SPEC, GeminiProfile

pytestmark = [pytest.mark.agents]
HERE = Path(__file__).parent
CTX = LaunchContext(gateway_url="http://127.0.0.1:48100", api_key="hk-trial-key", model="gemini-2.5-pro",
                    workdir="/workspace", tmux_socket="/tmp/s")


@pytest.mark.parametrize("name,kind", [
    # start-up: only the input box is drawn (it reads as idle) until the config is ready
    ("gemini_starting", ScreenKind.BUSY),
    ("gemini_idle_start", ScreenKind.IDLE),
    ("gemini_queued", ScreenKind.BUSY),       # typed during start-up: queued, not done
    ("gemini_busy_tool", ScreenKind.BUSY),
    ("gemini_hook_running", ScreenKind.IDLE),    # only our AfterAgent hook still running
    ("gemini_idle_after", ScreenKind.IDLE),
])
def test_classify_captured(name: str, kind: ScreenKind) -> None:
    assert SPEC.classify((HERE / "screens" / f"{name}.txt").read_text()).kind is kind


def test_parse_a_real_session() -> None:
    ep = parse_transcript("gemini", HERE / "sessions" / "gemini-0.61.0.jsonl")
    assert ep.session_id == "e4c5bb75-238a-4fb0-9058-f225af86806c" and ep.model == "gemini-2.5-pro"
    # the session-context message (a "$set") and the functionResponse messages are no turns
    assert [t.user_text for t in ep.turns] == ["Please update the harbour notes."]
    assert [c.name for c in ep.tool_calls] == ["run_shell_command", "replace"]
    assert "ships: 3" in ep.tool_calls[0].output and not ep.tool_calls[0].is_error
    assert ep.tool_calls[1].input["new_string"] == "ships: 4"
    assert ep.final_answer == "Ahoy: the notes now say four ships."
    assert (ep.usage.input_tokens, ep.usage.output_tokens) == (39733, 68)


def test_a_rewritten_message_counts_once(tmp_path: Path) -> None:
    msg = {"id": "m1", "type": "gemini", "content": "Working.", "model": "gemini-2.5-pro",
           "tokens": {"input": 10, "output": 2}}
    lines = [{"sessionId": "s1", "kind": "main"},
             {"id": "u1", "type": "user", "content": [{"text": "go"}]}, msg,
             {**msg, "toolCalls": [{"id": "c1", "name": "run_shell_command", "args": {"command": "false"},
                                    "status": "error", "result": [{"functionResponse": {
                                        "id": "c1", "name": "run_shell_command",
                                        "response": {"error": "exit 1"}}}]}]},
             {"id": "e1", "type": "error", "content": "[API Error: 503 UNAVAILABLE]"}]
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n{\"id\": \"cut")
    ep = parse_transcript("gemini", f)
    assert ep.usage.input_tokens == 10 and len(ep.tool_calls) == 1
    c = ep.tool_calls[0]
    assert (c.output, c.is_error) == ("exit 1", True)
    assert ep.api_errors == ["[API Error: 503 UNAVAILABLE]"] and ep.final_answer == ""


def test_seeded_files_select_key_auth_trust_and_the_hook() -> None:
    files = GeminiProfile().config_files(CTX)
    settings = json.loads(str(files[f"{AGENT_HOME}/.gemini/settings.json"][0]))
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["model"]["name"] == "gemini-2.5-pro"
    hook = settings["hooks"]["AfterAgent"][0]["hooks"][0]
    assert hook["command"] == f"{HOOK_PATH} gemini-after-agent"
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    trusted = json.loads(str(files[f"{AGENT_HOME}/.gemini/trustedFolders.json"][0]))
    assert trusted == {"/workspace": "TRUST_FOLDER"}
    launch = GeminiProfile().launch(CTX)
    assert launch.env["GOOGLE_GEMINI_BASE_URL"] == CTX.gateway_url
    assert launch.env["GEMINI_API_KEY"] == CTX.api_key
    assert launch.argv == ["gemini", "--model", "gemini-2.5-pro", "--approval-mode", "yolo"]
    assert CTX.api_key not in json.dumps(settings)
