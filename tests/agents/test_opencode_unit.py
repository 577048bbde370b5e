"""Pure tests of the opencode profile (no engine): its screen classifier on screens captured
from the real CLI 1.18.33 (tests/agents/screens/opencode_*), its transcript parser on the
session file its plugin wrote in a real session (tests/agents/sessions), and the files it
seeds (the Gateway as the only provider, the key only by reference, no install trigger)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controllers.profiles import parse_transcript
from controllers.profiles.base import HOOK_PATH, LaunchContext, ScreenKind
from controllers.profiles.opencode import (
    CONFIG_DIR,
    KEY_ENV,
    SPEC,
    VERSION,
    OpencodeProfile,
    session_of,
)

pytestmark = [pytest.mark.agents]
HERE = Path(__file__).parent
CTX = LaunchContext(gateway_url="http://127.0.0.1:48100", api_key="hk-trial-key", model="gpt-4.1",
                    workdir="/workspace", tmux_socket="/tmp/s")


@pytest.mark.parametrize("name,kind", [
    ("opencode_idle_start", ScreenKind.IDLE),
    # the input box before the config (and so the provider) is loaded: not ready for a prompt
    ("opencode_no_provider_yet", ScreenKind.STARTING),
    ("opencode_busy", ScreenKind.BUSY),        # "esc interrupt" under the input box
    ("opencode_idle_after", ScreenKind.IDLE),
])
def test_classify_captured(name: str, kind: ScreenKind) -> None:
    assert SPEC.classify((HERE / "screens" / f"{name}.txt").read_text()).kind is kind


def test_parse_a_real_session() -> None:
    ep = parse_transcript("opencode", HERE / "sessions" / "opencode-1.18.33.json")
    assert ep.session_id == "ses_dd1959722ffeyIrG7rK1MaYwvN" and ep.model == "gpt-4.1"
    assert [t.user_text for t in ep.turns] == ["Please update the harbour notes."]
    (call,) = ep.tool_calls
    assert call.name == "bash" and call.id == "call_1_0_0" and not call.is_error
    assert call.input["command"].startswith("ls /etc | head -n 3") and call.output == "ships: 3\n"
    assert ep.turns[0].texts == ["Counting the ships first.", "Ahoy: the notes now say three ships."]
    assert ep.final_answer == "Ahoy: the notes now say three ships."
    # two steps' step-finish parts: 8710 + 8789 in, 25 + 9 out
    assert (ep.usage.input_tokens, ep.usage.output_tokens) == (17499, 34)


def test_a_cut_or_missing_session_file_is_an_empty_episode(tmp_path: Path) -> None:
    cut = tmp_path / "ses_x.json"
    cut.write_text('{"info": {"id": "ses_x"}, "messages": [')
    assert parse_transcript("opencode", cut).turns == []
    assert parse_transcript("opencode", tmp_path / "none.json").turns == []


def test_an_interrupt_is_no_model_api_error() -> None:
    """What opencode 1.18.33 stored when the harness interrupted it at a trial's deadline
    before it asked the model (the error on the answer it had begun) is no API error: it was
    reported as "model API error: Aborted", infra_error instead of the timeout it was."""
    def session(error: dict[str, object]) -> dict[str, object]:
        return {"info": {"id": "ses_x"}, "messages": [
            {"info": {"id": "msg_1", "role": "user", "time": {"created": 1}},
             "parts": [{"type": "text", "text": "Please tidy the workspace."}]},
            {"info": {"id": "msg_2", "role": "assistant", "time": {"created": 2}, "error": error},
             "parts": []}]}
    aborted = {"name": "MessageAbortedError", "data": {"message": "Aborted"}}
    assert session_of(session(aborted)).api_errors == []
    api = {"name": "APIError", "data": {"message": "Overloaded", "statusCode": 529}}
    assert session_of(session(api)).api_errors == ["Overloaded"]


def test_files_point_at_the_gateway_with_the_key_by_reference() -> None:
    files = OpencodeProfile().config_files(CTX)
    cfg = json.loads(files[f"{CONFIG_DIR}/opencode.json"][0])
    prov = cfg["provider"]["harness"]
    assert prov["npm"] == "@ai-sdk/openai-compatible"  # bundled in the binary: nothing installed
    assert prov["options"]["baseURL"] == "http://127.0.0.1:48100/v1"
    assert prov["options"]["apiKey"] == "{env:" + KEY_ENV + "}"
    assert cfg["model"] == cfg["small_model"] == "harness/gpt-4.1"
    assert cfg["enabled_providers"] == ["harness"] and cfg["autoupdate"] is False
    assert cfg["permission"] == {"*": "allow"} and cfg["share"] == "disabled"
    assert all("hk-trial-key" not in str(data) for data, _mode, _user in files.values())
    plugin = files[f"{CONFIG_DIR}/plugin/harness.js"][0]
    assert f'"{HOOK_PATH}"' in str(plugin) and "session.idle" in str(plugin)
    # the npm state that keeps opencode from installing @opencode-ai/plugin at start-up
    lock = json.loads(files[f"{CONFIG_DIR}/package-lock.json"][0])
    assert lock["packages"][""]["dependencies"] == {"@opencode-ai/plugin": VERSION}
    assert f"{CONFIG_DIR}/node_modules/.package-lock.json" in files
    launch = OpencodeProfile().launch(CTX)
    assert launch.argv == ["opencode", "--model", "harness/gpt-4.1"]
    assert launch.env[KEY_ENV] == "hk-trial-key" and launch.env["OPENCODE_DISABLE_MODELS_FETCH"] == "true"


def test_default_mode_leaves_opencodes_own_permissions() -> None:
    from dataclasses import replace

    files = OpencodeProfile().config_files(replace(CTX, permission_mode="default"))
    assert json.loads(files[f"{CONFIG_DIR}/opencode.json"][0])["permission"] == {}
