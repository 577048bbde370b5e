"""Recording a pane to an asciicast v2 file (what ``asciinema play`` reads).

Why a control-mode client and not ``pipe-pane``: a ``tmux -C attach`` client receives every
byte the pane prints as ``%output`` notifications, and the timestamps are taken on this side
as the bytes arrive. The controller's own command channel carries them when it has one
(no second ``docker exec``); otherwise a dedicated client is attached. Nothing is written inside the container, so it works the same when
``DOCKER_HOST`` points at a remote engine, and an agent cleaning its disk cannot touch it.

The file starts with an event that draws the screen as it was when recording began (from
``capture-pane -e``), so replaying the events reproduces the final screen even when the
recording starts after the program did.

The recorder also notes when the pane last printed (``last_output_at``: "has the program
finished drawing?") and how often it printed a sequence that erases tmux's history
(``wipes``): then the pane's evidence is rebuilt from this file (:mod:`.scrollback`).
"""

from __future__ import annotations

import codecs
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from controllers.tmux.control import OutputListener

#: output that erases a pane's scrollback in tmux 3.3a: ED 3 ("erase saved lines"); a reset
#: is counted too (some terminals drop the history on it; tmux keeps it)
WIPES = re.compile(r"\x1b\[3;?J|\x1bc")
_WIPE_TAIL = 4  # the longest wipe less one character: what a chunk boundary can split


@dataclass(frozen=True)
class CastHeader:
    width: int
    height: int
    timestamp: int
    title: str = ""
    term: str = "screen-256color"

    def to_json(self) -> str:
        head: dict[str, Any] = {
            "version": 2,
            "width": self.width,
            "height": self.height,
            "timestamp": self.timestamp,
            "env": {"TERM": self.term, "SHELL": "/bin/sh"},
        }
        if self.title:
            head["title"] = self.title
        return json.dumps(head, ensure_ascii=False)


def initial_screen(lines: list[str], cursor_x: int, cursor_y: int) -> str:
    """Terminal output that paints ``capture-pane -e`` lines and puts the cursor back."""
    body = "\r\n".join(lines)
    return f"\x1b[0m\x1b[H\x1b[2J{body}\x1b[0m\x1b[{cursor_y + 1};{cursor_x + 1}H"


def read_cast(path: Path) -> tuple[dict[str, Any], list[tuple[float, str, str]]]:
    """Parse a cast file: the header and its events (time, code, data). Raises ValueError."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    header = json.loads(lines[0])
    if header.get("version") != 2:
        raise ValueError(f"{path}: not asciicast v2")
    events: list[tuple[float, str, str]] = []
    for n, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        ev = json.loads(ln)
        if not (isinstance(ev, list) and len(ev) == 3 and isinstance(ev[0], (int, float))):
            raise ValueError(f"{path}:{n}: bad event {ln[:80]!r}")
        events.append((float(ev[0]), str(ev[1]), str(ev[2])))
    return header, events


class AsciicastRecorder:
    """Writes one pane's output as asciicast v2 while it runs; ``stop`` is safe twice."""

    def __init__(
        self,
        path: Path,
        attach: Callable[[OutputListener], Callable[[], None]],
        pane_id: str,
        *,
        width: int,
        height: int,
        first_screen: str,
        title: str = "",
    ) -> None:
        self.path = Path(path)
        self.pane_id = pane_id
        self.events = 0
        #: sequences seen that erase tmux's history (the pane's capture lost lines)
        self.wipes = 0
        #: time.monotonic() of the pane's last output (its start, before any)
        self.last_output_at = time.monotonic()
        self._tail = ""
        self._lock = threading.Lock()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self.path.open("w", encoding="utf-8")
        header = CastHeader(width, height, int(time.time()), title=title)
        self._fh.write(header.to_json() + "\n")
        self._t0 = self.started_monotonic = time.monotonic()
        self._write(0.0, first_screen)
        self._detach: Callable[[], None] | None = None
        try:
            self._detach = attach(self._on_output)
        except Exception:
            self.stop()
            raise

    def _write(self, t: float, text: str) -> None:
        if not text or self._fh is None:
            return
        self._fh.write(json.dumps([round(t, 6), "o", text], ensure_ascii=False) + "\n")
        self._fh.flush()
        self.events += 1

    def _on_output(self, pane: str, data: bytes, at: float) -> None:
        if pane != self.pane_id:
            return
        with self._lock:
            text = self._decoder.decode(data)
            self.last_output_at = max(self.last_output_at, at)
            seen = self._tail + text
            self.wipes += sum(1 for m in WIPES.finditer(seen) if m.end() > len(self._tail))
            self._tail = seen[-_WIPE_TAIL:]
            self._write(max(at - self._t0, 0.0), text)

    def stop(self) -> Path:
        """Stop the output feed and close the file."""
        detach, self._detach = getattr(self, "_detach", None), None
        if detach is not None:
            detach()
        with self._lock:
            if self._fh is not None:
                self._write(time.monotonic() - self._t0, self._decoder.decode(b"", final=True))
                self._fh.close()
                self._fh = None
        return self.path
