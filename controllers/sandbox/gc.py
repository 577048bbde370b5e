"""The reaper for what killed processes left behind (``harness gc``; also run at every start).

A harness container is removed when its owner process is gone (same host: the pid is dead,
or alive with another start time) or when it is older than ``max_age_sec`` (any host: a
remote engine shared by many CI jobs). Containers of live owners on this host are kept,
so two harness processes on one machine never reap each other.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from controllers.sandbox import owner
from harness import labels

DEFAULT_MAX_AGE_SEC = 24 * 3600


@dataclass(frozen=True)
class Reaped:
    """One container the sweeper removed (or would remove, with dry_run)."""

    container_id: str
    name: str
    run_id: str
    why: str


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
    """Remove (or list) stale harness containers. Errors on one container do not stop it."""
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
    if not dry_run:
        _sweep_networks(client, host)
    return reaped


def _sweep_networks(client: Any, host: str) -> None:
    """Networks the harness made for runs whose owner is gone (best effort)."""
    try:
        nets = client.networks.list(filters={"label": [f"{labels.MANAGED}=true"]})
    except Exception:  # noqa: BLE001
        return
    for n in nets:
        lbl = dict(n.attrs.get("Labels") or {})
        if stale_reason(lbl, now=time.time(), host=host, max_age_sec=DEFAULT_MAX_AGE_SEC):
            try:
                n.remove()
            except Exception:  # noqa: BLE001 - still in use: next sweep
                pass
