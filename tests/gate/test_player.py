"""The built-in fallback player (player.js) against the real thing: a tmux pane recorded by
the harness's own recorder. (asciinema-player, used when setup installed it, is tested in
test_player_asciinema.py; ``assets=None`` here forces the fallback.)

A program draws into a real tmux pane (colours, cursor moves, erases, insert/delete, a scroll
region, the alternate screen, wide characters, OSC/DCS noise) while ``start_recording``
writes session.cast; the player, opened at ``#end`` in headless Chromium, must show the same
text as tmux's ``capture_pane(join_wrapped=False)`` of that pane, row for row.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path

import chromium_cdp
import pytest
import test_html_chromium
from gate_helpers import sample_trials

from controllers.tmux import LocalTmuxController
from gate.decision import decide
from gate.report import render_player, write_player, write_reports

#: the session fixture that finds (or, as root in CI, installs) Debian's chromium
chromium = test_html_chromium.chromium
png_size_and_colors = test_html_chromium.png_size_and_colors

CHROMIUM_FLAGS = chromium_cdp.FLAGS  # one list: nothing leaves this machine

#: what every program below runs first: wait for Enter so the recording sees everything
PREAMBLE = "stty -echo; read go; printf '\\033[?25l'\n"

#: the main screen: attributes, colours, wide text, scrolling, a scroll region, edits
MAIN = r"""
printf '\033]0;a window title\007\033P+q544e\033\\\033_apc\033\\'
printf '\033[1;31mbold red\033[0m \033[2mdim\033[22m \033[3mital\033[23m \033[4mund\033[24m '
printf '\033[7minv\033[27m \033[9mstrike\033[0m\n'
printf '\033[38;5;208m256\033[0m \033[38;2;10;200;30mtrue\033[48;2;5;5;80mcolour\033[0m '
printf '\033[38:2::1:2:3mitu\033[0m \033[95;104mbright\033[0m\n'
printf 'tab\tX\tY\n'
printf 'backspace: abcd\b\bXY\n'
for i in $(seq 1 30); do echo "scroll line $i"; done
printf '\033[3;12r\033[12;1H'
for i in 1 2 3 4 5; do printf 'region %d\n' $i; done
printf '\033[3;1H\033M\033Mrev-index\033[r'
printf '\033[5;8H\033[1K\033[6;1HABCDEFGHIJ\033[6;3H\033[2@\033[6;8H\033[1P\033[6;1H\033[2X'
printf '\033[8;1H\033[2L\033[13;1H\033[1M\033[4;10H\033[K\033[14;1H\033[2K'
printf '\0337\033[1;50Hsaved\0338here \033[s\033[22;60Hcsi-s\033[u!'
printf '\033[10;40Habc\033[2Adef\033[5Bghi\033[3Cjkl\033[10Dmno'
printf '\033[2Enext\033[Fprev\033[30Gcol30\033[18dvpa\033[15;50fhvp'
printf '\033[?1049h\033[2J\033[Halt screen junk\033[?1049l'
printf ' x\033[16;1H\033[0J\033[17;1Hafter ED0\033[2;5H\033[1J'
printf '\033[20;1Hwide: 日本語 🎉 ├──┤ ╭─╮ café \033[20;8HX\033[20;2H\033[2P'
printf '\033[21;79H語x\033[21;1H\033[3@'
printf '\033[24;1Hlast row \033[>4;2m\033[<u\033[?2004h\033[20Xgone\033[4D\033[Pend'
"""

#: a full-screen TUI left open on the alternate screen, redrawn with a scroll region
ALT = r"""
printf 'shell text that the alternate screen hides\n'
printf '\033[?1049h\033[H\033[2J\033[44;97m%-60s\033[0m' ' header'
printf '\033[2;23r\033[23;1H'
for i in $(seq 1 40); do printf '\033[38;5;%dmrow %02d\033[0m ▐▛███▜▌\n' $((i + 100)) $i; done
printf '\033[r\033[24;1H\033[7m status: done \033[0m\033[K\033[1;50H\033[1;32m●\033[0m'
printf '\033[5;1H\033[3L\033[6;4Hinserted\033[20;1H\033[2M\033[10;1H\033[S\033[T\033[2T'
"""


class _Screen(HTMLParser):
    """The text of each ``div.row`` of the player's screen, and body's data-frame."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.frame: str | None = None
        self.cursor = 0
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.frame = a.get("data-frame")
        if tag == "div" and a.get("class") == "row":
            self.rows.append("")
            self._depth = 1
        elif self._depth and tag == "div":
            self._depth += 1
        if self._depth and a.get("class") == "cur":
            self.cursor += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.rows[-1] += data


def lines(text: str | list[str]) -> list[str]:
    out = [ln.rstrip() for ln in (text.split("\n") if isinstance(text, str) else text)]
    while out and not out[-1]:
        out.pop()
    return out


def chromium_run(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{uuid.uuid4().hex[:6]}"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def final_frame(chromium: str, page: Path, query: str = "#end") -> _Screen:
    proc = chromium_run(chromium, page.parent, "--dump-dom", page.as_uri() + query)
    assert proc.returncode == 0, proc.stderr[-2000:]
    screen = _Screen()
    screen.feed(proc.stdout)
    assert screen.frame == "end", "the player did not jump to the end"
    return screen


def record(script: str, cast: Path, *, width: int = 80, height: int = 24) -> str:
    """Run ``script`` in a real tmux pane while recording it; return capture_pane()."""
    prog = cast.with_suffix(".sh")
    prog.write_text(PREAMBLE + script + "\nsleep 600\n", encoding="utf-8")
    with LocalTmuxController(session=f"pl{uuid.uuid4().hex[:8]}") as ctl:
        ctl.start(["bash", str(prog)], width=width, height=height, env={"LANG": "C.UTF-8"})
        ctl.start_recording(cast, title="player test")
        ctl.send_keys("", enter=True)
        screen = ctl.wait_for_idle(stable_for=0.7, timeout_sec=20)
        ctl.stop_recording()
        assert ctl.is_alive(), f"the drawing script died: {screen}"
        # one line per screen row: the default (-J) joins a wrapped row to the next one
        return ctl.capture_pane(join_wrapped=False)


@pytest.mark.tmux
@pytest.mark.slow
@pytest.mark.parametrize("name,script", [("main", MAIN), ("alt", ALT)])
def test_final_frame_equals_tmux_capture(
    tmux_bin: str, chromium: str, tmp_path: Path, name: str, script: str
) -> None:
    cast = tmp_path / "session.cast"
    expected = record(script, cast)
    page = write_player(cast, assets=None)
    assert page == tmp_path / "player.html"
    got = final_frame(chromium, page)
    assert len(got.rows) == 24  # the recorded height, blank rows included
    assert got.cursor == 0  # the program hid the cursor
    assert lines(got.rows) == lines(expected)
    # the same frame whichever way the end is asked for
    assert final_frame(chromium, page, "?end").rows == got.rows
    if name == "main":
        text = "\n".join(got.rows)
        assert "junk" not in text and "a window title" not in text and "544e" not in text
        assert "本語 🎉" in text and "├──┤" in text


@pytest.mark.tmux
@pytest.mark.slow
def test_player_screenshot(tmux_bin: str, chromium: str, tmp_path: Path) -> None:
    cast = tmp_path / "session.cast"
    record(ALT, cast)
    page = write_player(cast, assets=None)
    assert page is not None
    shot = tmp_path / "player.png"
    proc = chromium_run(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1100,700", page.as_uri() + "#end"
    )
    assert shot.is_file(), f"no screenshot; chromium said: {proc.stderr[-2000:]}"
    assert shot.stat().st_size > 10_000
    width, height, colors = png_size_and_colors(shot.read_bytes())
    assert (width, height) == (1100, 700)
    assert colors > 20  # a coloured terminal frame, not a blank page


@pytest.mark.slow
def test_dec_line_drawing_is_drawn_as_box_characters(chromium: str, tmp_path: Path) -> None:
    """tmux's plain capture prints the ASCII letters of DEC graphics (``lqqk``), so this one
    is checked against what a terminal shows instead."""
    cast = _cast(tmp_path / "s.cast", [[0.0, "o", "\x1b(0lqk\r\n\x1b(B\x1b)0x\x0eq\x0fq"]])
    page = write_player(cast, assets=None)
    assert page is not None
    assert lines(final_frame(chromium, page).rows) == ["┌─┐", "x─q"]


#: run before the player: frames come from a fake clock, 100 ms apiece, so playing is
#: deterministic under Chromium's virtual time
FAKE_CLOCK = (
    "<script>let fakeNow = 0; window.requestAnimationFrame = "
    "(cb) => setTimeout(() => cb((fakeNow += 100)), 0);</script>"
)


@pytest.mark.slow
def test_play_and_seek(chromium: str, tmp_path: Path) -> None:
    events = [
        [0.0, "o", "a\r\n"],
        [0.5, "o", "\x1b[1;1Hb"],
        [1.0, "o", "\x1b[2J\x1b[Hdone"],
        [90.0, "o", "!"],  # a long idle gap: shortened, so playing it takes seconds
    ]
    page = write_player(_cast(tmp_path / "s.cast", events), assets=None)
    assert page is not None
    html = page.read_text().replace(
        '<pre id="screen"></pre>', '<pre id="screen"></pre>' + FAKE_CLOCK
    )
    drive = {
        "play.html": '$("speed").value = "2"; $("play").click();',
        "seek.html": '$("end").click(); $("seek").value = "0.6"; $("seek").dispatchEvent(new Event("input"));',
    }
    for name, js in drive.items():
        script = f"<script>const $ = (i) => document.getElementById(i); {js}</script></body>"
        (tmp_path / name).write_text(html.replace("</body>", script), encoding="utf-8")
        proc = chromium_run(
            chromium,
            tmp_path,
            "--virtual-time-budget=30000",
            "--dump-dom",
            (tmp_path / name).as_uri(),
        )
        screen = _Screen()
        screen.feed(proc.stdout)
        clock = proc.stdout.split('<span id="clock">', 1)[1].split("<", 1)[0]
        if name == "play.html":  # played through to the last event, then stopped by itself
            assert lines(screen.rows) == ["done!"] and clock == "4.0 / 4.0 s"
            assert '<button id="play" type="button">play</button>' in proc.stdout
        else:  # back from the end to 0.6 s: a fresh screen replayed up to there
            assert lines(screen.rows) == ["b"] and clock == "0.6 / 4.0 s"


def _cast(path: Path, events: list[list[object]], width: int = 20, height: int = 3) -> Path:
    head = {"version": 2, "width": width, "height": height, "timestamp": 0}
    path.write_text("\n".join(json.dumps(x) for x in [head, *events]) + "\n", encoding="utf-8")
    return path


def test_player_page_is_self_contained_and_escapes_the_cast(tmp_path: Path) -> None:
    cast = _cast(tmp_path / "x.cast", [[0.0, "o", "</script><b>hi</b>\u2028"], [1.5, "o", "!"]])
    page = render_player(cast, title="<t>", assets=None)
    assert page.count("</script>") == 2  # the JSON block and the player: nothing in between
    assert "<t>" not in page and "&lt;t&gt;" in page
    for needle in ('id="play"', 'id="speed"', 'id="seek"', 'id="end"', "<option"):
        assert needle in page
    assert "http://" not in page and "https://" not in page and " src=" not in page


def test_bad_cast_gets_no_player(tmp_path: Path) -> None:
    (tmp_path / "player.html").write_text("stale")
    (tmp_path / "session.cast").write_text("x")
    assert write_player(tmp_path / "session.cast") is None  # either player
    assert not (tmp_path / "player.html").exists()
    _cast(tmp_path / "v1.cast", [])
    (tmp_path / "v1.cast").write_text('{"version": 1}\n')
    with pytest.raises(ValueError):
        render_player(tmp_path / "v1.cast", assets=None)


def test_report_links_each_trial_to_its_player(tmp_path: Path) -> None:
    good = tmp_path / "trials/hd-001/candidate/0"
    bad = tmp_path / "trials/hd-001/baseline/0"
    for d in (good, bad):
        d.mkdir(parents=True)
        (d / "transcript.jsonl").write_text("{}\n")
    _cast(good / "session.cast", [[0.0, "o", "hello"]])
    (bad / "session.cast").write_text("not a cast")
    trials = sample_trials()
    paths = write_reports(decide(trials), trials, tmp_path / "report", run_dir=tmp_path)
    html = paths.html.read_text()
    assert (good / "player.html").is_file() and not (bad / "player.html").exists()
    assert '<a href="../trials/hd-001/candidate/0/player.html">player</a>' in html
    assert html.count(">player</a>") == 1  # the unreadable cast keeps only its raw link
    assert '<a href="../trials/hd-001/baseline/0/session.cast">cast</a>' in html
    assert '<a href="../trials/hd-001/candidate/0/transcript.jsonl">transcript</a>' in html
    assert "hd-001 / candidate / 0" in (good / "player.html").read_text()
