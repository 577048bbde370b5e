"""The reaper for what killed processes left behind (``harness gc``; also run at every start).

Providers call it: the Docker provider for containers, networks, volumes and its host temp
dirs; the local provider for its directories (``sweep_temp_dirs``). A harness container is
removed when its owner process is gone (same host: the pid is dead, or alive with another
start time) or when it is older than ``max_age_sec`` (any host: a remote engine shared by
many CI jobs). Containers of live owners on this host are kept, so two harness processes on
one machine never reap each other.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers.sandbox import owner
from harness import labels

DEFAULT_MAX_AGE_SEC = 24 * 3600


@dataclass(frozen=True)
class Reaped:
    """One leftover the sweeper removed (or would remove, with dry_run)."""

    container_id: str  # the engine's id (short), or the path of a temp dir
    name: str
    run_id: str
    why: str
    kind: str = "container"  # container | network | volume | temp dir

    def line(self) -> str:
        """One line for ``harness gc``."""
        about = [*([self.container_id] if self.container_id != self.name else []),
                 *([f"run {self.run_id}"] if self.run_id != "?" else [])]
        detail = f" ({', '.join(about)})" if about else ""
        return f"{self.kind} {self.name}{detail}: {self.why}"


def stale_reason(lbl: dict[str, str], *, now: float, host: str, max_age_sec: float) -> str | None:
    """Why a container with these labels should go, or None to keep it. Pure, for tests."""
    created = lbl.get(labels.CREATED, "")
    age = now - int(created) if created.isdigit() else None
    if lbl.get(labels.OWNER_HOST) == host:
        pid_s = lbl.get(labels.OWNER_PID, "")
        if pid_s.isdigit() and not owner.owner_alive(int(pid_s), lbl.get(labels.OWNER_START) or None):
            return f"owner pid {pid_s} is gone"
    if age is not None and age > max_age_sec:
        return f"older than {max_age_sec / 3600:g}h"
    return None


def sweep(
    client: Any,
    *,
    dry_run: bool = False,
    max_age_sec: float = DEFAULT_MAX_AGE_SEC,
    kinds: tuple[str, ...] = ("sandbox", "gateway", "dind"),
) -> list[Reaped]:
    """Remove (or list) stale harness containers, then the networks and volumes of owners
    that are gone (after the containers: one in use cannot go). Only what carries the
    harness's labels is looked at. Errors on one object do not stop it."""
    host = socket.gethostname()
    now = time.time()
    reaped: list[Reaped] = []
    for c in client.containers.list(all=True, filters={"label": [f"{labels.MANAGED}=true"]}):
        lbl = dict(c.labels or {})
        if lbl.get(labels.KIND, "sandbox") not in kinds:
            continue
        why = stale_reason(lbl, now=now, host=host, max_age_sec=max_age_sec)
        if why is None:
            continue
        reaped.append(Reaped(c.id[:12], c.name, lbl.get(labels.RUN_ID, "?"), why))
        if not dry_run:
            try:
                c.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - already gone, or removal in progress
                pass
    for kind, listing in (("network", client.networks), ("volume", client.volumes)):
        reaped += _sweep_others(kind, listing, host=host, now=now, max_age_sec=max_age_sec,
                                dry_run=dry_run)
    return reaped


def kept_for_other_hosts(client: Any, *, max_age_sec: float = DEFAULT_MAX_AGE_SEC) -> dict[str, int]:
    """Owner host -> how many of this engine's harness containers a sweep from here keeps
    because their owner runs on another host (its pid cannot be checked from here) and they
    are not yet ``max_age_sec`` old: e.g. a Ray worker's engine swept from the driver."""
    host = socket.gethostname()
    now = time.time()
    kept: dict[str, int] = {}
    # ignore_removed: one removed between the listing and its inspect is simply not counted
    for c in client.containers.list(all=True, filters={"label": [f"{labels.MANAGED}=true"]},
                                    ignore_removed=True):
        lbl = dict(c.labels or {})
        other = lbl.get(labels.OWNER_HOST, "")
        if other and other != host and stale_reason(lbl, now=now, host=host,
                                                     max_age_sec=max_age_sec) is None:
            kept[other] = kept.get(other, 0) + 1
    return kept


def _sweep_others(kind: str, listing: Any, *, host: str, now: float, max_age_sec: float,
                  dry_run: bool) -> list[Reaped]:
    """Networks or volumes with the harness's labels whose owner is gone (best effort: one
    still in use stays for the next sweep, and is not reported as removed)."""
    try:
        found = listing.list(filters={"label": [f"{labels.MANAGED}=true"]})
    except Exception:  # noqa: BLE001 - the engine cannot list them: nothing to do
        return []
    out = []
    for obj in found:
        lbl = dict(obj.attrs.get("Labels") or {})
        why = stale_reason(lbl, now=now, host=host, max_age_sec=max_age_sec)
        if why is None:
            continue
        name = obj.attrs.get("Name") or getattr(obj, "name", "?")
        if not dry_run:
            try:
                obj.remove()
            except Exception:  # noqa: BLE001 - still in use: next sweep
                continue
        ident = str(obj.id)[:12] if kind == "network" else name  # a volume's id is its name
        out.append(Reaped(ident, name, lbl.get(labels.RUN_ID, "?"), why, kind))
    return out


def sweep_temp_dirs(kinds: Collection[str], *, dry_run: bool = False,
                    before_remove: Callable[[Path], None] | None = None) -> list[Reaped]:
    """Temp dirs named by ``owner.temp_prefix(kind)`` whose owner process is gone (a SIGKILL
    runs no ``finally``). Other names in the temp dir, and dirs of live owners, are left
    alone. ``before_remove`` ends what still runs from one (a local sandbox's tmux servers)."""
    out = []
    for d in sorted(Path(tempfile.gettempdir()).glob("harness-*@*")):
        m = owner.TEMP_NAME.match(d.name)
        if m is None or m["kind"] not in kinds or not d.is_dir() or d.is_symlink():
            continue
        if d.stat().st_uid != os.getuid() or owner.owner_alive(int(m["pid"]), m["start"] or None):
            continue
        out.append(Reaped(str(d), str(d), "?", f"owner pid {m['pid']} is gone", "temp dir"))
        if not dry_run:
            if before_remove is not None:
                before_remove(d)
            shutil.rmtree(d, ignore_errors=True)
    return out
