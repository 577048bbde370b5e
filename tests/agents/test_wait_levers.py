"""The levers that make a trial cheap (issue 14): the CLIs are told not to animate, the
driver reads the screen slowly while the model has not answered, claude's engine is told to
skip its costly compiler tier, and ``HARNESS_WAIT_LEVERS=off`` turns them all off (for the
bench's before/after)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from controllers.profiles.base import LaunchContext
from controllers.profiles.claude import BUN_START_LEVERS, ClaudeProfile, settings_json
from controllers.profiles.codex import config_toml
from controllers.profiles.driver import AgentDriver
from controllers.profiles.gemini import settings_json as gemini_settings
from controllers.profiles.opencode import TUI_STATE_DIR, OpencodeProfile
from harness import images

CTX = LaunchContext(gateway_url="http://127.0.0.1:1", api_key="k", model="m", workdir="/w",
                    tmux_socket="/s")


def test_claude_and_codex_are_told_not_to_animate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    s = settings_json(CTX)
    assert s["prefersReducedMotion"] is True and s["spinnerTipsEnabled"] is False
    assert "hooks" in s  # the completion hook is still there
    toml = config_toml(CTX)
    assert "[tui]\nanimations = false\nshow_tooltips = false\n" in toml


def test_gemini_and_opencode_are_told_not_to_animate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    ui = gemini_settings(CTX)["ui"]
    assert ui["showSpinner"] is False and ui["loadingPhrases"] == "off" and ui["hideTips"] is True
    files = OpencodeProfile().config_files(CTX)
    text, _mode, owner = files[f"{TUI_STATE_DIR}/kv.json"]
    assert json.loads(text) == {"animations_enabled": False} and owner == "agent"
    assert any(p.endswith("/opencode.json") for p in files)  # the config is still written


def test_levers_off_leaves_the_old_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    assert "prefersReducedMotion" not in json.dumps(settings_json(CTX))
    assert "[tui]" not in config_toml(CTX)
    assert "showSpinner" not in gemini_settings(CTX)["ui"]
    assert not any(p.endswith("/kv.json") for p in OpencodeProfile().config_files(CTX))
    assert not set(BUN_START_LEVERS) & set(ClaudeProfile().launch(CTX).env)


def test_claude_starts_with_its_engine_levers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    env = ClaudeProfile().launch(CTX).env
    assert {k: env.get(k) for k in BUN_START_LEVERS} == BUN_START_LEVERS
    assert env["ANTHROPIC_BASE_URL"] == CTX.gateway_url  # the lever did not displace the wiring


def test_the_claude_binary_reads_the_engine_levers(docker_client: Any) -> None:
    """The levers are only worth their keep while claude ships as a Bun binary that reads
    ``BUN_JSC_*``: its engine lists every option that differs from its default."""
    tag = images.ensure_image(docker_client, "claude", say=lambda _m: None)
    env = {**BUN_START_LEVERS, "BUN_JSC_dumpOptions": "1"}
    out = docker_client.containers.run(tag, ["claude", "--version"], environment=env, remove=True,
                                       stdout=True, stderr=True).decode()
    changed = dict(re.findall(r"^\s+(\w+)=(\S+) \(default: ", out, re.MULTILINE))
    assert changed == {"dumpOptions": "1", "useDFGJIT": "false", "useConcurrentGC": "false",
                       "largeHeapSize": BUN_START_LEVERS["BUN_JSC_largeHeapSize"]}, out
    assert "(Claude Code)" in out


class _Spec:
    idle_masks: tuple[str, ...] = ()
    signal_settle_sec: float = 1.0


def test_the_driver_polls_slowly_only_while_the_model_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    silent = [0.0]
    drv = AgentDriver(_Spec(), ctl=None, box=None, waiting=lambda: silent[0])  # type: ignore[arg-type]
    assert drv._poll_interval() == drv.poll_sec  # no request open
    silent[0] = 0.2
    assert drv._poll_interval() == drv.poll_sec  # just asked, or a byte just came
    silent[0] = 5.0
    assert drv._poll_interval() == drv.waiting_poll_sec > drv.poll_sec
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    assert drv._poll_interval() == drv.poll_sec
    assert AgentDriver(_Spec(), ctl=None, box=None)._poll_interval() == drv.poll_sec  # type: ignore[arg-type]


class _Rec:
    last_output_at = 1.0


class _Ctl:
    """Counts screen reads; the screen is the number of outputs so far."""

    def __init__(self) -> None:
        self.recorder: _Rec | None = _Rec()
        self.reads = 0
        self.outputs = 0

    def capture_pane(self) -> str:
        self.reads += 1
        return f"screen {self.outputs}"


def test_the_screen_is_read_again_only_after_the_pane_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    ctl = _Ctl()
    drv = AgentDriver(_Spec(), ctl=ctl, box=None)  # type: ignore[arg-type]
    assert [drv._screen() for _ in range(5)] == ["screen 0"] * 5
    assert ctl.reads == 1
    ctl.outputs, ctl.recorder.last_output_at = 1, 2.0  # type: ignore[union-attr]
    assert drv._screen() == "screen 1" and ctl.reads == 2
    drv.screen_max_age_sec = 0.0  # too old: read regardless of the recorder
    drv._screen()
    assert ctl.reads == 3
    ctl.recorder = None  # nothing records the pane: every poll reads
    drv._screen(), drv._screen()
    assert ctl.reads == 5
    ctl.recorder = _Rec()
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    drv.screen_max_age_sec = 1.0
    drv._screen(), drv._screen()
    assert ctl.reads == 7
