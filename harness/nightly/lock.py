"""One night per project at a time: an OS file lock under the runs folder, keyed by project.

Why :class:`harness.runner.ownership.RunLock` underneath: the same reasons hold (the kernel
grants ``flock`` to one process and drops it when that process dies, SIGKILL included), so
only the file's place and the wording differ. A lock file that still names a holder when we
get the lock was left by a process that died mid-night: the lock is taken over, and the
caller says so (``taken_over``), since that night is unfinished and ``--resume`` would
finish it.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from pathlib import Path
from typing import Any, Self

from controllers.sandbox.owner import owner_alive
from harness.runner.ownership import RunLock, RunOwned, read_holder

_READ_HOLDER_SEC = 2.0


class NightRunning(RunOwned):
    """Another live process is running a night of this project."""


def lock_path(runs_root: Path, project: Path) -> Path:
    """``<runs>/nightly/locks/<project name>-<hash of its path>.lock``."""
    key = str(Path(project).resolve())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(key).name).strip("-") or "project"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(runs_root) / "nightly" / "locks" / f"{slug}-{digest}.lock"


class NightLock(RunLock):
    """The project's night lock; ``acquire`` raises :class:`NightRunning` while another night
    of the project runs. ``taken_over`` holds the dead holder's record when there was one."""

    def __init__(self, runs_root: Path, project: Path) -> None:
        super().__init__(lock_path(runs_root, project).parent, str(project))
        self.path = lock_path(runs_root, project)
        self.project = str(project)
        self.taken_over: dict[str, Any] | None = None

    def acquire(self) -> Self:
        if self.held:
            return self
        before = read_holder(self.path)  # a name left in the file: its holder never released
        super().acquire()
        self.taken_over = before
        return self

    def take_over_message(self) -> str | None:
        """One line about the dead night whose lock we took, or None."""
        h = self.taken_over
        if not h:
            return None
        since = h.get("since")
        when = (f" (started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))})"
                if isinstance(since, (int, float)) else "")
        return (f"took over the night lock of {self.project} from process {h.get('pid')}, which "
                f"is gone{when}; its night is unfinished: `harness nightly --resume` finishes it")

    def _refusal(self) -> RunOwned:
        holder = read_holder(self.path, wait_sec=_READ_HOLDER_SEC)
        what = f"a night of {self.project} is already running"
        if holder is None:
            return NightRunning(f"{what} (another process holds {self.path})",
                                hint="wait for it to finish")
        pid, host = holder.get("pid"), holder.get("host")
        where = f" on {host}" if host and host != socket.gethostname() else ""
        if not where and isinstance(pid, int) and not owner_alive(pid, holder.get("start")):
            return NightRunning(f"{what} (its lock {self.path} is held; recorded pid {pid} is gone)",
                                hint=f"find the holder with `fuser {self.path}`")
        return NightRunning(f"{what} in process {pid}{where}",
                            hint=f"wait for it to finish, or stop it (kill {pid})")
