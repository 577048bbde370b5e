"""Running one command in the pane's shell and reading back its exit code and output.

Why markers: the pane is a terminal, not a pipe; the only reliable way to find one command's
output in the scrollback is to print unique lines before and after it. The markers are
printed by ``printf`` from two halves, so the echoed command line never contains them whole
and cannot be mistaken for the output.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from controllers.tmux.base import Controller


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    output: str


def run_in_shell(ctl: Controller, cmd: str, *, timeout_sec: float) -> ShellResult:
    """``cmd`` must be one line (``SendKeysError`` otherwise). On timeout the command is
    interrupted (C-c) and ``WaitTimeout`` raised with the last screen."""
    tag = uuid.uuid4().hex[:12]
    begin, end = f"__HB_{tag}__", f"__HE_{tag}__"
    line = (f"printf '%s%s\\n' '{begin[:5]}' '{begin[5:]}'; {cmd}; "
            f"printf '%s%s:%s\\n' '{end[:5]}' '{end[5:]}' \"$?\"")
    ctl.send_keys(line, enter=True, delay_enter=0)
    try:
        m = ctl.wait_for_text(re.escape(end) + r":(\d+)", regex=True, history=True,
                              timeout_sec=timeout_sec)
    except Exception:
        ctl.interrupt()
        raise
    text = ctl.capture_pane(history=True)
    start = text.rfind(begin + "\n")
    stop = text.rfind(end + ":")
    output = text[start + len(begin) + 1 : stop].rstrip("\n") if 0 <= start < stop else ""
    return ShellResult(int(m.group(1)), output)
