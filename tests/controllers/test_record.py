"""Recording: the asciicast v2 parses, and replaying its events redraws the final screen."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from controllers.tmux import LocalTmuxController, TmuxController
from controllers.tmux import waits as W
from controllers.tmux.record import read_cast

Factory = Callable[..., TmuxController]

#: colours, cursor moves, wide characters and an overwritten line: a screen worth replaying
PROGRAM = (
    "stty -echo; read go; printf '\\033[1;31mred\\033[0m plain 日本語 🎉\\n'; "
    "for i in 1 2 3 4 5 6 7 8 9 10 11 12; "
    "do echo line $i; done; "
    "printf 'progress 10%%'; sleep 0.2; printf '\\rprogress 100%%\\n'; "
    "printf '\\033[5;10Hmoved'; printf '\\033[19;1H'; echo final-line; sleep 600"
)


def replay_screen(cast: Path, width: int, height: int) -> str:
    """Play the events' output into a fresh local tmux pane of the recorded size."""
    header, events = read_cast(cast)
    data = "".join(text for _t, code, text in events if code == "o")
    raw = cast.with_suffix(".raw")
    raw.write_text(data, encoding="utf-8")
    with LocalTmuxController(session=f"replay{uuid.uuid4().hex[:6]}") as player:
        player.start(["sh", "-c", f"stty -opost -echo; cat '{raw}'; sleep 600"],
                     width=header["width"], height=header["height"],
                     env={"LANG": "C.UTF-8"})
        return str(player.wait_for_idle(stable_for=0.5, timeout_sec=20))


def test_recording_replays_to_the_final_screen(make_ctl: Factory, tmp_path: Path) -> None:
    ctl = make_ctl(["bash", "-c", PROGRAM], width=70, height=20)
    cast = tmp_path / "pane.cast"
    ctl.start_recording(cast, title="test")
    ctl.send_keys("", enter=True)  # the program starts printing once recording runs
    ctl.wait_for_text("final-line", timeout_sec=15)
    final = ctl.wait_for_idle(stable_for=0.5, timeout_sec=15)
    assert ctl.stop_recording() == cast
    assert ctl.stop_recording() is None  # stopping twice is harmless

    header, events = read_cast(cast)
    assert header["version"] == 2 and (header["width"], header["height"]) == (70, 20)
    assert isinstance(header["timestamp"], int) and header["title"] == "test"
    times = [t for t, _c, _d in events]
    assert times == sorted(times) and len(events) >= 3
    assert {c for _t, c, _d in events} == {"o"}
    # real time: the program sleeps 0.2 s between "progress 10%" and "progress 100%"
    t10 = next(t for t, _c, d in events if "progress 10%" in d)
    t100 = next(t for t, _c, d in events if "progress 100%" in d)
    assert 0.15 <= t100 - t10 < 5
    for line in cast.read_text().splitlines()[1:]:
        assert isinstance(json.loads(line), list)

    replayed = replay_screen(cast, 70, 20)
    assert replayed == final
    assert "moved" in final and "progress 100%" in final and "日本語 🎉" in final


def test_recording_started_late_begins_with_the_current_screen(
    make_ctl: Factory, tmp_path: Path
) -> None:
    ctl = make_ctl(["sh", "-c", "echo early-text; sleep 600"], width=60, height=10)
    ctl.wait_for_text("early-text", timeout_sec=10)
    cast = tmp_path / "late.cast"
    ctl.start_recording(cast)
    ctl.stop_recording()
    assert "early-text" in replay_screen(cast, 60, 10)


def test_asciinema_play_reproduces_the_screen(make_ctl: Factory, tmp_path: Path) -> None:
    exe = shutil.which("asciinema")
    if exe is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but asciinema is not installed (scripts/test.sh installs it)")
        pytest.skip("asciinema is not installed (the replay test above checks the events)")
    ctl = make_ctl(["bash", "-c", PROGRAM], width=70, height=20)
    cast = tmp_path / "a.cast"
    ctl.start_recording(cast)
    ctl.send_keys("", enter=True)
    ctl.wait_for_text("final-line", timeout_sec=15)
    final = ctl.wait_for_idle(stable_for=0.5, timeout_sec=15)
    ctl.stop_recording()
    # asciinema needs a terminal: play the file in a local pane of the recorded size
    with LocalTmuxController(session=f"play{uuid.uuid4().hex[:6]}") as player:
        player.start(["sh", "-c", f"'{exe}' play -i 0.2 '{cast}'; echo; echo PLAYED; sleep 600"],
                     width=70, height=21, env={"LANG": "C.UTF-8"})
        player.wait_for_text("PLAYED", timeout_sec=30)
        played = player.capture_pane()
    assert "Traceback" not in played
    assert final.splitlines()[-1] in played and "line 4   moved" in played


def test_recording_on_the_command_channel_with_a_chatty_pane(make_ctl: Factory, tmp_path: Path) -> None:
    """The recording rides on the command channel: starting and stopping it while the pane
    prints without pause never costs that channel (tmux 3.3a left a ``no-output`` toggle
    with output queued unanswered), and the captures stay exact."""
    ctl = make_ctl(["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; done"], width=60, height=10)
    channel = ctl.notification_feed()
    assert channel is not None
    ctl.capture_pane()
    connects = channel.connects
    for n in range(5):
        ctl.start_recording(tmp_path / f"c{n}.cast")
        ctl.wait_for_text(r"tick \d+", regex=True, timeout_sec=10)
        ctl.stop_recording()
        assert channel.alive() and channel.connects == connects, "the command channel was lost"
        _, events = read_cast(tmp_path / f"c{n}.cast")
        assert any("tick" in text for _t, _c, text in events)
    first = ctl.capture_pane()
    assert "tick" in first
    ctl.wait(W.ScreenMatches(r"tick \d+"), timeout_sec=5)  # output flows: captures are not cached
    deadline = time.monotonic() + 10
    while ctl.capture_pane() == first:  # a moving screen is re-read, never served stale
        assert time.monotonic() < deadline, "the capture never changed"
        time.sleep(0.01)
