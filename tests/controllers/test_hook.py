"""The completion hook (controllers/profiles/hook.sh) against a real local tmux server: it
reads the channel the driver armed in the server option and fires it so the driver's
control channel sees it, and ignores codex's title side thread."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from controllers.profiles.base import HOOK_SCRIPT
from controllers.profiles.driver import CHANNEL_OPTION
from controllers.tmux import LocalTmuxController
from controllers.tmux import waits as W
from controllers.tmux.argv import SIGNAL_SESSION

pytestmark = pytest.mark.tmux


def _run_hook(tmp_path: Path, ctl: LocalTmuxController, *args: str, stdin: str = "") -> None:
    hook = tmp_path / "harness-hook"
    hook.write_text(HOOK_SCRIPT)
    hook.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HARNESS_TMUX_SOCKET": ctl.socket_path,
           "HARNESS_STATE_DIR": str(tmp_path / "state")}
    r = subprocess.run([str(hook), *args], input=stdin, text=True, env=env, timeout=30, check=False,
                       capture_output=True)
    assert r.returncode == 0, r.stderr  # the hook never fails the agent


def _fired(ctl: LocalTmuxController, sig: W.Signal, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if sig.check(ctl, "", time.monotonic()) is not None:
            return True
        time.sleep(0.01)
    return False


def test_hook_fires_the_armed_channel_and_skips_codex_titles(tmp_path: Path, tmux_bin: str) -> None:
    assert f"={SIGNAL_SESSION}:" in HOOK_SCRIPT and CHANNEL_OPTION in HOOK_SCRIPT
    with LocalTmuxController() as ctl:
        ctl.start(["sleep", "600"])
        ch = ctl.new_channel("turn")
        ctl.tmux(["set-option", "-g", CHANNEL_OPTION, ch])
        sig = W.Signal(ch)
        sig.start(ctl)
        try:
            title = '{"type":"agent-turn-complete","input-messages":["Generate a concise, single-line task title"]}'
            _run_hook(tmp_path, ctl, "codex-notify", title)
            assert not _fired(ctl, sig, 0.5), "codex's title side thread must not end the turn"
            _run_hook(tmp_path, ctl, "claude-stop", stdin='{"hook_event_name":"Stop"}')
            assert _fired(ctl, sig, 5)
        finally:
            sig.stop()
        events = (tmp_path / "state" / "events.jsonl").read_text().splitlines()
        assert [e.split('"')[3] for e in events] == ["codex-notify", "claude-stop"]
