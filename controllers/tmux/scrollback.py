"""A pane's whole text rebuilt from its recording, with a scrollback nothing can erase.

Why: tmux's history is the pane's evidence, and the program in the pane can wipe it. tmux
3.3a keeps the screen on a clear screen (``ESC [2J``, its ``scroll-on-clear``) and on a reset
(``ESC c``), but ``ESC [3J`` ("erase saved lines", what ``clear`` prints) empties the history.
The asciicast holds every byte the pane printed, so replaying it into a terminal emulator
whose clears push the screen into the scrollback (as tmux does) and whose scrollback is
never erased gives back every line the agent showed. The runner uses this only when the
recording saw a wipe (``record.WIPES``): tmux's own capture is exact and costs nothing, the
replay costs about a CPU-second per 250 KB of output.

The emulator is pyte's ``Screen`` with the scrollback kept here: lines leave the top of a
full-screen scroll region into it, as in tmux (a region lower down scrolls nothing out), and
a clear of the whole screen (``ESC [2J``, or ``ESC [J`` from the top left corner, which is
what ``clear`` prints for ``TERM=screen``) pushes the screen into it first.
Sequences pyte does not parse (private-marker CSI such as kitty keyboard ``ESC [<u``,
xterm's ``ESC [>4;2m``, DCS/APC strings, colon sub-parameters) are dropped first: they
change nothing on screen, and pyte would print their tails as text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from controllers.tmux.record import WIPES, read_cast

#: scrollback lines kept (tmux's history-limit for harness panes is 100,000)
MAX_LINES = 200_000

_UNPARSED = re.compile(
    r"\x1b\[[<=>][0-9;:?]*[ -/]*[@-~]"         # CSI with a private marker other than '?'
    # '?' CSIs other than modes (h, l), erases (J, K) and device attributes (c): pyte hands
    # them to handlers that take no ``private`` flag (``ESC [?u``, ``ESC [>4;?m`` from
    # Ink-based CLIs such as gemini)
    r"|\x1b\[\?[0-9;:?]*[ -/]*[@-IL-bd-gi-km-~]"
    r"|\x1b\[[0-9;]*:[0-9;:]*[@-~]"            # colon sub-parameters (curly underlines)
    r"|\x1b[P_^X][\s\S]*?(?:\x1b\\|\x07)"      # DCS, APC, PM, SOS strings
)


def count_wipes(text: str) -> int:
    """How many history-erasing sequences ``text`` holds (see ``record.WIPES``)."""
    return len(WIPES.findall(text))


def _line_text(line: Any, columns: int) -> str:
    if not line:
        return ""
    cells = [" "] * columns
    for x, ch in line.items():
        if 0 <= x < columns:
            cells[x] = ch.data
    return "".join(cells).rstrip()


def _keeping_screen(columns: int, lines: int) -> Any:
    import pyte

    class KeepingScreen(pyte.Screen):  # type: ignore[misc]
        """A screen whose scrollback survives clears, ``ESC [3J`` and resets."""

        def __init__(self, columns: int, lines: int) -> None:
            super().__init__(columns, lines)
            self.scrollback: list[str] = []

        def _keep(self, text: str) -> None:
            self.scrollback.append(text)
            if len(self.scrollback) > MAX_LINES + 10_000:
                del self.scrollback[: len(self.scrollback) - MAX_LINES]

        def _keep_screen(self) -> None:
            rows = [_line_text(self.buffer[y], self.columns) for y in range(self.lines)]
            while rows and not rows[-1]:
                rows.pop()
            for row in rows:
                self._keep(row)

        def index(self) -> None:
            top, bottom = self.margins or (0, self.lines - 1)
            if self.cursor.y == bottom and top == 0:
                self._keep(_line_text(self.buffer[top], self.columns))
            super().index()

        def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
            if how == 3:
                return  # "erase saved lines": the scrollback is the evidence; kept
            if how == 2 or (how == 0 and self.cursor.x == 0 and self.cursor.y == 0):
                self._keep_screen()  # a whole-screen clear: what tmux's scroll-on-clear does
            super().erase_in_display(how, *args, **kwargs)

        def reset(self) -> None:
            if hasattr(self, "scrollback"):  # pyte's own __init__ resets before it is set
                self._keep_screen()
            super().reset()

    return KeepingScreen(columns, lines)


def render_output(chunks: list[str], width: int, height: int) -> str:
    """The text of everything ``chunks`` (a pane's output, in order) ever showed: the
    scrollback, then the final screen; trailing spaces and trailing blank lines dropped."""
    import pyte

    screen = _keeping_screen(width, height)
    stream = pyte.Stream(screen)
    stream.feed(_UNPARSED.sub("", "".join(chunks)))
    rows = [*screen.scrollback,
            *(_line_text(screen.buffer[y], screen.columns) for y in range(screen.lines))]
    while rows and not rows[-1].strip():
        rows.pop()
    return "\n".join(rows[-MAX_LINES:])


def render_cast(path: Path) -> str:
    """:func:`render_output` of an asciicast v2 file's output events. Raises ValueError
    when the file is not a cast."""
    header, events = read_cast(path)
    return render_output([data for _t, code, data in events if code == "o"],
                         int(header["width"]), int(header["height"]))
