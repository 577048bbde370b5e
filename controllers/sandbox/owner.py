"""Who owns a container, and releasing what this process started when it dies.

Why owner pid *and* start time: pids are reused; a container whose owner pid is alive but
started at a different time belongs to a dead process. The sweeper (``controllers.sandbox.gc``)
reads these labels; the atexit and SIGINT/SIGTERM handlers here release live sandboxes.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import threading
import time
import weakref
from typing import Any, Protocol

from harness import labels


class Closeable(Protocol):
    def close(self) -> None: ...


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    # the command name may contain spaces and parens; fields resume after the last ')'
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest[19] if len(rest) > 19 else None


def owner_alive(pid: int, start: str | None) -> bool:
    """True when the process that labelled a resource still exists (same pid, same start)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now_start = process_start_time(pid)
    return start is None or now_start is None or now_start == start


#: how a temp dir the harness makes is named: ``harness-<kind>@<pid>.<start>-<random>``, so
#: the sweeper can tell its owner (and that owner's start time) from the name alone
TEMP_NAME = re.compile(r"^harness-(?P<kind>[a-z][a-z-]*)@(?P<pid>\d+)\.(?P<start>\d*)-")


def temp_prefix(kind: str) -> str:
    """A ``tempfile`` prefix naming this process as the owner: what a SIGKILL leaves under
    it is found by ``controllers.sandbox.gc.sweep_temp_dirs``."""
    pid = os.getpid()
    return f"harness-{kind}@{pid}.{process_start_time(pid) or ''}-"


def owner_labels(run_id: str, kind: str = "sandbox") -> dict[str, str]:
    pid = os.getpid()
    return {
        labels.MANAGED: "true",
        labels.KIND: kind,
        labels.RUN_ID: run_id,
        labels.OWNER_PID: str(pid),
        labels.OWNER_HOST: socket.gethostname(),
        labels.OWNER_START: process_start_time(pid) or "",
        labels.CREATED: str(int(time.time())),
    }


_live: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_atexit_done = False


def register(resource: Closeable) -> None:
    """Track a live resource so atexit / signals release it. Idempotent per object."""
    global _atexit_done
    with _lock:
        _live[id(resource)] = resource
        if not _atexit_done:
            atexit.register(release_all)
            _atexit_done = True


def unregister(resource: Closeable) -> None:
    with _lock:
        _live.pop(id(resource), None)


def release_all() -> int:
    """Close every live resource; errors are swallowed (never hide the real failure)."""
    with _lock:
        items = list(_live.values())
        _live.clear()
    for r in items:
        try:
            r.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    return len(items)


_unremoved: dict[str, str] = {}  # container id -> name, removals the engine refused


def remember_unremoved(container_id: str, name: str) -> None:
    """A container this process could not remove (the engine was away). The sweeper skips
    it while this process lives, so this process retries it: ``retry_unremoved``."""
    with _lock:
        _unremoved[container_id] = name


def unremoved() -> dict[str, str]:
    with _lock:
        return dict(_unremoved)


def retry_unremoved(client: Any) -> list[str]:
    """Remove the containers remembered by ``remember_unremoved``; returns the names removed
    (or found gone). Those the engine still refuses stay for the next call. Costs no engine
    call when nothing is pending (it runs before every container start)."""
    from docker.errors import NotFound

    done: list[str] = []
    for cid, name in unremoved().items():
        try:
            client.containers.get(cid).remove(force=True, v=True)
        except NotFound:
            pass
        except Exception:  # noqa: BLE001, S112 - engine still away: next time
            continue
        with _lock:
            _unremoved.pop(cid, None)
        done.append(name)
    return done


def install_signal_handlers() -> None:
    """On SIGINT / SIGTERM: release live sandboxes, then behave as the signal normally does.

    Only the CLI installs these (tests keep pytest's own handlers).
    """

    def handler(signum: int, frame: Any) -> None:
        release_all()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
