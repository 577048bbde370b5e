"""The completion hook (controllers/profiles/hook.sh) against a real local tmux server: it
reads the channel the driver armed in the server option and fires it so the driver's
control channel sees it, and ignores codex's title side thread."""

from __future__ import annotations

import json
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


def _hook(tmp_path: Path, ctl: LocalTmuxController) -> tuple[Path, dict[str, str]]:
    """The hook script written out, and the env an agent CLI would run it with."""
    hook = tmp_path / "harness-hook"
    hook.write_text(HOOK_SCRIPT)
    hook.chmod(0o755)
    return hook, {"PATH": "/usr/bin:/bin", "HARNESS_TMUX_SOCKET": ctl.socket_path,
                  "HARNESS_STATE_DIR": str(tmp_path / "state")}


def _armed(ctl: LocalTmuxController) -> W.Signal:
    """A pane running, and a turn's channel armed in the server option and watched."""
    ctl.start(["sleep", "600"])
    ch = ctl.new_channel("turn")
    ctl.tmux(["set-option", "-g", CHANNEL_OPTION, ch])
    sig = W.Signal(ch)
    sig.start(ctl)
    return sig


def _run_hook(tmp_path: Path, ctl: LocalTmuxController, *args: str, stdin: str = "") -> None:
    hook, env = _hook(tmp_path, ctl)
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
        sig = _armed(ctl)
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


def _line(rec: dict[str, object]) -> str:
    return json.dumps(rec, separators=(",", ":")) + "\n"  # as qwen writes them (JSON.stringify)


def test_qwen_stop_waits_for_the_session_file_to_hold_the_answer(tmp_path: Path, tmux_bin: str) -> None:
    """Qwen Code writes its session file behind its Stop hook: the hook fires the channel only
    once the file holds a closing answer for each Stop of that session (here the second)."""
    sid, other = "5e55-0001", "5e55-0002"
    chats = tmp_path / "chats"
    chats.mkdir()
    transcript = chats / f"{sid}.jsonl"
    # turn one whole; turn two's prompt (which quotes a record, escaped) and its tool round
    transcript.write_text(
        _line({"type": "user", "sessionId": sid, "message": {"parts": [{"text": "hi"}]}})
        + _line({"type": "assistant", "message": {"parts": [{"text": "Hello."}]}})
        + _line({"type": "user", "message": {"parts": [{"text": 'why {"type":"assistant"}?'}]}})
        + _line({"type": "assistant", "message": {"parts": [{"functionCall": {"name": "ls"}}]}})
        + _line({"type": "tool_result", "message": {"parts": [{"functionResponse": {"id": "1"}}]}}))
    state = tmp_path / "state"
    state.mkdir()
    earlier = [{"session_id": sid, "transcript_path": str(transcript)},
               {"session_id": other, "transcript_path": str(chats / f"{other}.jsonl")}]
    (state / "events.jsonl").write_text("".join(
        json.dumps({"event": "qwen-stop", "ts": 0, "payload": p}, separators=(",", ":")) + "\n"
        for p in earlier))
    payload = json.dumps({"session_id": sid, "transcript_path": str(transcript),
                          "hook_event_name": "Stop", "last_assistant_message": "Done."})
    with LocalTmuxController() as ctl:
        sig = _armed(ctl)
        hook, env = _hook(tmp_path, ctl)
        proc = subprocess.Popen([str(hook), "qwen-stop"], stdin=subprocess.PIPE, env=env, text=True)
        try:
            assert proc.stdin is not None
            proc.stdin.write(payload)
            proc.stdin.close()
            assert not _fired(ctl, sig, 1.0), "fired before the session file held turn two's answer"
            assert proc.poll() is None, "the hook gave up instead of waiting for the session file"
            with transcript.open("a") as fh:
                fh.write(_line({"type": "assistant", "message": {"parts": [{"text": "Done."}]}}))
            assert _fired(ctl, sig, 10), "the answer landed in the session file but no signal came"
            assert proc.wait(timeout=10) == 0
        finally:
            sig.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
