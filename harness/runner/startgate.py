"""At most a few agent CLIs starting at once on one machine (issue 14).

A CLI's start is its costliest moment: claude spends about 0.7 CPU-s before its prompt is
ready, then next to nothing while the model thinks. When ten trials start together on two
cores, every one of them takes four times as long to get ready, and the trials stay in step
afterwards (same task shapes, same model latency), so each later wave collides again. The
gate lets as many CLIs boot at once as the machine has cores; the others wait their turn,
which spreads the starts out once and for all. Measured on the demo suite with 4 s per
reply at concurrency 10 on 2 cores: the first request came 3.96 s after a trial began
without the gate and 1.24 s at concurrency 1.

Time spent waiting at the gate is not the trial's: it is left out of the trial's deadline
and of ``duration_sec`` (the gate's cost guard compares durations across variants), and is
kept as ``timing["start_queue"]``.
"""

from __future__ import annotations

import os
import threading
import time

from controllers.profiles.common import wait_levers
from harness.errors import ConfigError

ENV = "HARNESS_START_SLOTS"


def start_slots() -> int:
    """How many CLIs may start at once: ``HARNESS_START_SLOTS`` (0 = no limit), else this
    machine's cores; no limit with ``HARNESS_WAIT_LEVERS=off`` (the bench's "before")."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ConfigError(f"{ENV}={raw!r} is not a whole number",
                              hint=f"set {ENV} to the CLIs that may start at once, or 0 for no limit") from None
        if n < 0:
            raise ConfigError(f"{ENV}={n} is negative", hint=f"set {ENV} to 0 (no limit) or more")
        return n
    return (os.cpu_count() or 1) if wait_levers() else 0


class Slot:
    """One CLI's turn to start: how long it waited, and when (epoch seconds) it entered and
    left. ``leave`` is safe to call more than once; only the first counts."""

    def __init__(self, sem: threading.BoundedSemaphore | None, waited: float) -> None:
        self._sem, self.waited = sem, waited
        self.entered_at, self.left_at = time.time(), 0.0  # left_at 0: still held
        self._lock = threading.Lock()

    def leave(self) -> None:
        with self._lock:
            if self.left_at:
                return
            self.left_at = time.time()
            sem, self._sem = self._sem, None
        if sem is not None:
            sem.release()

    def evidence(self) -> dict[str, float]:
        return {"waited_sec": round(self.waited, 4), "entered_at": self.entered_at, "left_at": self.left_at}


class StartGate:
    """Shared by every worker of one run on one machine (a Ray node has its own)."""

    def __init__(self, slots: int | None = None) -> None:
        self.slots = start_slots() if slots is None else slots
        self._sem = threading.BoundedSemaphore(self.slots) if self.slots > 0 else None

    def enter(self) -> Slot:
        """Block until a CLI may start; the slot says how long that took."""
        if self._sem is None:
            return Slot(None, 0.0)
        t0 = time.monotonic()
        self._sem.acquire()
        return Slot(self._sem, time.monotonic() - t0)
