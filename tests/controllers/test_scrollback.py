"""The scrollback rebuilt from a recording: what a clear, ``ESC [3J`` or a reset erases in
tmux stays; the recorder counts the sequences that erase tmux's history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from controllers.tmux.control import OutputListener
from controllers.tmux.record import AsciicastRecorder
from controllers.tmux.scrollback import count_wipes, render_cast, render_output

pytestmark = [pytest.mark.filterwarnings("error")]


def numbered(a: int, b: int) -> str:
    return "".join(f"line {i:05d}\r\n" for i in range(a, b + 1))


@pytest.mark.parametrize("wipe", ["\x1b[2J", "\x1b[3J", "\x1bc", "\x1b[H\x1b[2J\x1b[3J", "\x1b[H\x1b[J",
                                  "\x1b[3;J"])
def test_nothing_a_wipe_erases_is_lost(wipe: str) -> None:
    text = render_output([numbered(1, 300), wipe, numbered(301, 400), wipe], 40, 10)
    lines = text.split("\n")
    assert [ln for ln in lines if ln.startswith("line ")] == [f"line {i:05d}" for i in range(1, 401)]


def test_an_idle_screen_renders_as_tmux_captures_it() -> None:
    """Colours, cursor moves, overwritten lines, wide characters; blank lines at the end
    dropped, trailing spaces cut."""
    out = ["\x1b[1;31mred\x1b[0m plain 日本語 🎉\r\n", "progress 10%", "\rprogress 100%\r\n",
           "\x1b[5;10Hmoved", "\x1b[7;1Hlast   "]
    assert render_output(out, 30, 10).split("\n") == [
        "red plain 日本語 🎉", "progress 100%", "", "", "         moved", "", "last"]


def test_sequences_the_emulator_does_not_parse_leave_no_text() -> None:
    noise = ("\x1b[<u\x1b[>1u\x1b[>4;2m\x1b[>0q\x1bP+q544e\x1b\\\x1b_Gi=1\x1b\\\x1b[4:3mcurly\x1b[0m"
             "\x1b[?4m\x1b[?1;2m\x1b[?1A\x1b[?6n\x1b[>4;?m\x1b[?u")  # '?' CSIs pyte's handlers cannot take
    assert render_output([f"a{noise}b\r\n"], 40, 5) == "acurlyb"


def test_a_scroll_region_below_the_top_scrolls_nothing_into_the_scrollback() -> None:
    """A status area redrawn by scrolling a region (as full-screen UIs do) is not history."""
    region = "\x1b[3;5r\x1b[5;1H" + "".join(f"\r\nregion {i}" for i in range(50)) + "\x1b[r"
    text = render_output(["top line\r\n", region], 30, 6)
    assert text.split("\n")[0] == "top line" and text.count("region") == 3


def test_the_last_lines_of_a_huge_output_are_kept() -> None:
    from controllers.tmux import scrollback

    text = render_output([numbered(1, 500)], 20, 5)
    assert len(text.split("\n")) == 500 and scrollback.MAX_LINES >= 100_000


def test_render_cast_reads_the_output_events(tmp_path: Path) -> None:
    cast = tmp_path / "a.cast"
    cast.write_text("\n".join([json.dumps({"version": 2, "width": 20, "height": 4}),
                               json.dumps([0.0, "o", numbered(1, 10)]), json.dumps([0.1, "i", "typed"]),
                               json.dumps([0.2, "o", "\x1b[3Jend"])]) + "\n")
    assert render_cast(cast).split("\n") == [f"line {i:05d}" for i in range(1, 11)] + ["end"]
    cast.write_text('{"version": 1}\n')
    with pytest.raises(ValueError, match="not asciicast v2"):
        render_cast(cast)


def _recorder(tmp_path: Path) -> tuple[AsciicastRecorder, Callable[[bytes], None]]:
    feed: list[OutputListener] = []

    def attach(listener: OutputListener) -> Callable[[], None]:
        feed.append(listener)
        return lambda: None

    rec = AsciicastRecorder(tmp_path / "r.cast", attach, "%1", width=20, height=4,
                            first_screen="\x1b[H\x1b[2J")  # the harness's own clear: not counted
    return rec, lambda data: feed[0]("%1", data, 0.0)


def test_the_recorder_counts_wipes_split_across_chunks(tmp_path: Path) -> None:
    rec, out = _recorder(tmp_path)
    for chunk in [b"abc\x1b[", b"3Jdef\x1b", b"c", b"\x1b[2J", b"\x1b[3", b";J", b"x\x1b[3J\x1bc"]:
        out(chunk)
    rec.stop()
    assert rec.wipes == 5
    assert count_wipes(render_input(tmp_path / "r.cast")) == 5


def test_the_recorder_notes_when_the_pane_last_printed(tmp_path: Path) -> None:
    feed: list[OutputListener] = []
    rec = AsciicastRecorder(tmp_path / "r.cast", lambda cb: feed.append(cb) or (lambda: None), "%1",
                            width=20, height=4, first_screen="")
    before = rec.last_output_at
    feed[0]("%2", b"another pane", before + 5)
    assert rec.last_output_at == before
    feed[0]("%1", b"ours", before + 7)
    assert rec.last_output_at == before + 7
    rec.stop()


def render_input(cast: Path) -> str:
    """The raw output a cast holds (its events' data joined)."""
    lines = cast.read_text().splitlines()[1:]
    return "".join(json.loads(ln)[2] for ln in lines)
