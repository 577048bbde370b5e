"""The pane's evidence (``pane.txt``): taken once the CLI has finished drawing, and whole
even when the agent erased the terminal's history.

Why wait: the turn is done when the CLI's hook fires or its idle prompt is back, but a
CLI that just answered 5,000 lines may still be pushing them through the terminal (tmux
reads the pty a few KB at a time), or, on a busy machine, not have drawn them at all yet:
claude was seen to fire its Stop hook and then compute for seconds, printing nothing, its
pre-turn prompt still on screen. A capture at such a moment ends mid-answer or before it.
So the pane must have printed nothing for a moment, with the idle prompt showing, and the
CLI's processes must be idle (their CPU time, read by the tmux server; bounded: a CLI that
keeps drawing is captured as it is when the bound runs out).

Why the recording: tmux's history is what the agent's terminal kept, and the agent can
erase it (``clear``, ``printf '\\e[3J'``). The recorder counts such sequences; when it saw
one, the text is rebuilt from the asciicast (every byte the pane printed) by an emulator
whose scrollback cannot be erased (:mod:`controllers.tmux.scrollback`). When tmux itself
is gone (the agent killed it), the cast is all there is: it is written, then the error
goes on to the caller.
"""

from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path
from typing import Any

from controllers.profiles.base import ProfileSpec, ScreenKind
from controllers.tmux.controller import TmuxController
from controllers.tmux.scrollback import render_cast
from controllers.tmux.waits import OutputQuiet
from harness.errors import ControllerError, WaitTimeout

log = logging.getLogger(__name__)

#: the pane printed nothing for this long: the CLI finished drawing
QUIET_SEC = 0.5
#: ... and the CLI's processes used at most this share of a core meanwhile (an idle CLI uses
#: next to none; one still laying out a long answer uses a whole one)
MAX_CPU_SHARE = 0.1
#: the longest wait for that after a turn that ended normally, and after one that did not
#: (timed out, exited, blocked: the screen may never settle)
SETTLE_MAX_SEC = 15.0
SETTLE_MAX_UNFINISHED_SEC = 2.0


def write_pane(ctl: TmuxController, spec: ProfileSpec, path: Path, *, finished: bool) -> dict[str, Any]:
    """Write ``pane.txt``; returns how it was taken (for ``result.json``'s extra).

    Raises what the controller raises when tmux cannot be reached, after writing the text
    the recording holds."""
    t0 = time.monotonic()
    info: dict[str, Any] = {"source": "tmux"}

    def ready(screen: str) -> bool:
        return not spec.idle or spec.classify(screen).kind is ScreenKind.IDLE

    try:
        try:
            ctl.wait(OutputQuiet(QUIET_SEC, ready=ready, cpu_probe=lambda: pane_cpu_sec(ctl),
                                 max_cpu_share=MAX_CPU_SHARE),
                     poll_interval_sec=0.05, fail_on_exit=False,
                     timeout_sec=SETTLE_MAX_SEC if finished else SETTLE_MAX_UNFINISHED_SEC)
            info["settled"] = True
        except WaitTimeout:
            info["settled"] = False  # still drawing: captured as it is now
        info["settle_sec"] = round(time.monotonic() - t0, 3)
        text = ctl.capture_pane(history=True)
    except ControllerError:
        _from_cast(ctl, path, info)
        raise
    recorder = ctl.recorder
    if recorder is not None and recorder.wipes:
        info["wipes"] = recorder.wipes
        if _from_cast(ctl, path, info):
            return info
    path.write_text(text, encoding="utf-8")
    return info


#: CPU ticks (utime + stime, USER_HZ = 100) of every process in the pane's session: the
#: fields after the command name, which may hold spaces, so they are counted from its ')'
_SESSION_TICKS = ("cat /proc/[0-9]*/stat 2>/dev/null | awk -v s=#{pane_pid} "
                  "'{sub(/^.*\\) /, \"\"); split($0, f, \" \"); if (f[4] == s) t += f[12] + f[13]} "
                  "END {print t + 0}'")
CPU_OPTION = "@harness-cpu-ticks"


def pane_cpu_sec(ctl: TmuxController) -> float | None:
    """CPU seconds the pane's processes (its session: the CLI and what it started) have used,
    read where tmux runs by the tmux server itself (a job that sets a server option; no
    engine call), or None when that cannot be read."""
    tmux = " ".join(shlex.quote(a) for a in (ctl.tmux_bin, "-S", ctl.socket_path))
    try:
        job = f"{tmux} set -g {CPU_OPTION} \"$({_SESSION_TICKS})\""
        ctl.tmux(["run-shell", "-t", ctl.pane_id, job])
        out = ctl.tmux(["show-options", "-gqv", CPU_OPTION], idempotent=True)
    except ControllerError:
        return None
    value = (out[0] if out else "").strip()
    return int(value) / 100.0 if value.isdigit() else None


def _from_cast(ctl: TmuxController, path: Path, info: dict[str, Any]) -> bool:
    """``pane.txt`` from the whole recording (stopped first, so the file is complete)."""
    recorder = ctl.recorder
    if recorder is None:
        return False
    cast = recorder.path
    try:
        ctl.stop_recording()
        text = render_cast(cast)
    except Exception as exc:  # noqa: BLE001 - a failed rebuild loses pane.txt, not the verdict
        log.warning("pane text from %s failed: %s", cast, exc)
        info["cast_error"] = str(exc)[:200]
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    info["source"] = "cast"
    return True
