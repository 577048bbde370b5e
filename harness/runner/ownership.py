"""One run, one owner: the process that runs a Run holds an OS file lock in its folder.

Why a lock and not a pid in the store: two ``harness run --resume RUN`` started at the same
moment would both read "the owner is gone" and both win, then run the same trials into the
same folders. ``flock`` is granted to exactly one of them, and the kernel drops it when its
holder dies, however it dies (SIGKILL included), so a dead owner's run is taken over with
no stale-lock clean-up and no pid guessing. The holder's pid, process start time and host
are written into the lock file only so the refused process can say who owns the run; the
start time is compared so a pid that was reused by another program is not named.

The descriptor is opened non-inheritable (Python's default): the agent containers' helper
processes (``docker exec``) never hold the lock after the harness is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Self

from controllers.sandbox.owner import owner_alive, process_start_time
from harness.errors import ConfigError

LOCK_NAME = "owner.lock"
#: how long a refused process waits for the winner to write its name into the lock file
_READ_HOLDER_SEC = 2.0


class RunOwned(ConfigError):
    """Another live process owns this run; the message names it and says what to do."""


class RunLock:
    """The run's ownership; ``acquire`` raises :class:`RunOwned` when another process has it.

    Use as a context manager or call ``release`` (safe twice). Releasing closes the file:
    the kernel drops the lock. Process exit does the same.
    """

    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.run_id = run_id
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Self:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._refusal() from None
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot lock run {self.run_id} ({self.path}): {exc}",
                              hint="the runs folder must be on a file system with flock") from exc
        me = {"pid": os.getpid(), "start": process_start_time(os.getpid()),
              "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # nobody owns it now; a reader finds no name to report
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _refusal(self) -> RunOwned:
        holder = read_holder(self.path, wait_sec=_READ_HOLDER_SEC)
        again = f"`harness run --resume {self.run_id}`"
        if holder is None:
            return RunOwned(f"run {self.run_id} is owned by another process (it holds {self.path})",
                            hint=f"wait for it to finish, then {again}")
        pid, host = holder.get("pid"), holder.get("host")
        where = f" on {host}" if host and host != socket.gethostname() else ""
        if not where and isinstance(pid, int) and not owner_alive(pid, holder.get("start")):
            # the lock is held, yet the recorded process is gone (a reused pid, another pid
            # namespace): say what is known without naming the wrong program
            return RunOwned(f"run {self.run_id} is owned by another process (its lock {self.path} "
                            f"is held; the recorded owner pid {pid} is gone)",
                            hint=f"find the process holding it (fuser {self.path}), then {again}")
        since = holder.get("since")
        started = (f", running since {time.strftime('%H:%M:%S', time.localtime(since))}"
                   if isinstance(since, (int, float)) else "")
        return RunOwned(f"run {self.run_id} is still running in process {pid}{where}{started}",
                        hint=f"wait for it to finish, or stop it (kill {pid}), then {again}")


def read_holder(path: Path, *, wait_sec: float = 0.0) -> dict[str, Any] | None:
    """The owner a lock file names, or None. A winner writes its name just after it got the
    lock, so a reader that lost the race may look again for up to ``wait_sec``."""
    deadline = time.monotonic() + wait_sec
    while True:
        try:
            data = json.loads(Path(path).read_text() or "null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) or time.monotonic() >= deadline:
            return data if isinstance(data, dict) else None
        time.sleep(0.05)
