"""Benchmark the tmux transports: prints a table, then one JSON line. Never asserts.

    python bench/controller.py [--image harness/base:latest] [--n 200]

Measures, in one run, per-command latency (p50 / p95) of ``capture-pane`` and of
``send-keys -l`` + ``send-keys Enter`` + ``capture-pane`` over transport (a) (one
``docker exec`` per command), transport (b) (one control-mode channel through one
``docker exec -i``) and a local tmux server (control channel and one process per command);
then idle-detection latency on a synthetic program: from its last byte of output (taken from
the control channel's ``%output`` timestamps) to ``wait_for_idle`` returning, minus the
requested stable time; the cost of one libtmux call (``Pane.capture_pane``, ``Pane.cmd``)
on a ``ctl.libtmux_server()`` riding the same channel; and, off the hot path, the cost of a
whole lifecycle (``start`` to ``close``: the local controller runs it through libtmux's
objects, the container one in one process).

Goals from issue 3: control_capture_p50_ms <= 1 and speedup_capture >= 50.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controllers.tmux import ContainerHost, LocalTmuxController, TmuxController
from controllers.tmux.record import read_cast

PROGRAM = ["cat"]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def measure(ctl: TmuxController, n: int) -> dict[str, float]:
    pane = ctl.pane_id
    cap = ["capture-pane", "-p", "-t", pane]
    for _ in range(5):  # warm up (connects the channel)
        ctl.tmux(cap)

    def roundtrip() -> None:
        ctl.tmux(["send-keys", "-t", pane, "-l", "--", "x"])
        ctl.tmux(["send-keys", "-t", pane, "Enter"])
        ctl.tmux(cap)

    caps = timed(lambda: ctl.tmux(cap), n)
    rts = timed(roundtrip, n)
    return {"cap_p50": statistics.median(caps), "cap_p95": pct(caps, 0.95),
            "rt_p50": statistics.median(rts), "rt_p95": pct(rts, 0.95)}


def libtmux_latency(ctl: TmuxController, n: int) -> dict[str, float]:
    """libtmux's own Pane API over the controller's channel (ctl.libtmux_pane())."""
    pane = ctl.libtmux_pane()
    for _ in range(5):
        pane.capture_pane()
    caps = timed(pane.capture_pane, n)
    cmds = timed(lambda: pane.cmd("display-message", "-p", "#{pane_id}"), n)
    return {"cap_p50": statistics.median(caps), "cmd_p50": statistics.median(cmds)}


def lifecycle_ms(make: Callable[[], TmuxController], n: int) -> float:
    """p50 ms of one start (server, options, session, pane) plus close (kill-server)."""
    def once() -> None:
        with make() as ctl:
            ctl.start(PROGRAM, width=120, height=40)
    return statistics.median(timed(once, n))


def idle_latency(ctl: TmuxController, stable_for: float) -> float:
    """ms from the program's last output to wait_for_idle returning, minus stable_for."""
    with tempfile.TemporaryDirectory() as tmp:
        cast = Path(tmp) / "idle.cast"
        ctl.send_keys("x", enter=False)  # make sure the channel is up
        rec = ctl.start_recording(cast)
        assert ctl.recorder is not None
        t0 = ctl.recorder.started_monotonic
        ctl.paste("".join(f"tick {i}\n" for i in range(3)))
        ctl.wait_for_idle(stable_for=stable_for, poll=0.02, timeout_sec=30)
        returned = time.monotonic()
        ctl.stop_recording()
        _h, events = read_cast(rec)
        last = t0 + events[-1][0]
    return (returned - last - stable_for) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=os.environ.get("HARNESS_BENCH_IMAGE", "harness/base:latest"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--stable-for", type=float, default=0.5)
    ap.add_argument("--starts", type=int, default=20, help="lifecycles timed per transport")
    args = ap.parse_args()

    cid = subprocess.run(
        ["docker", "run", "-d", "--init", "--network", "none", "--label",
         "io.agent-harness.managed=true", "--label", "io.agent-harness.kind=bench", args.image],
        capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    rows: dict[str, dict[str, float]] = {}
    idle: dict[str, float] = {}
    lib: dict[str, dict[str, float]] = {}
    life: dict[str, float] = {}
    try:
        setups: list[tuple[str, Callable[[], TmuxController]]] = [
            ("docker exec (a)", lambda: TmuxController(ContainerHost(cid), transport="exec")),
            ("docker control (b)", lambda: TmuxController(ContainerHost(cid), transport="control")),
            ("local control", lambda: LocalTmuxController(transport="control")),
            ("local exec", lambda: LocalTmuxController(transport="exec")),
        ]
        for label, make in setups:
            kind = make().transport_kind
            life[label] = lifecycle_ms(make, args.starts)
            with make() as ctl:
                ctl.start(PROGRAM, width=120, height=40)
                rows[label] = measure(ctl, args.n)
                if kind == "control":
                    lib[label] = libtmux_latency(ctl, args.n)
                    idle[label] = idle_latency(ctl, args.stable_for)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, timeout=120, check=False)

    print(f"{'transport':<22}{'capture p50':>12}{'p95':>9}{'send+Enter+capture p50':>25}"
          f"{'p95':>9}   (ms, n={args.n})")
    for label, r in rows.items():
        print(f"{label:<22}{r['cap_p50']:>12.3f}{r['cap_p95']:>9.3f}{r['rt_p50']:>25.3f}"
              f"{r['rt_p95']:>9.3f}")
    for label, r in lib.items():
        print(f"libtmux over {label}: Pane.capture_pane p50 {r['cap_p50']:.3f} ms, "
              f"Pane.cmd p50 {r['cmd_p50']:.3f} ms")
    for label, ms in idle.items():
        print(f"idle detection ({label}): {ms:.1f} ms after the last output + "
              f"{args.stable_for:g}s stable window (poll 20 ms)")
    for label, ms in life.items():
        print(f"lifecycle ({label}): start + close p50 {ms:.1f} ms (n={args.starts})")
    a, b = rows["docker exec (a)"], rows["docker control (b)"]
    figures = {
        "exec_capture_p50_ms": round(a["cap_p50"], 3),
        "control_capture_p50_ms": round(b["cap_p50"], 3),
        "local_capture_p50_ms": round(rows["local control"]["cap_p50"], 3),
        "exec_roundtrip_p50_ms": round(a["rt_p50"], 3),
        "control_roundtrip_p50_ms": round(b["rt_p50"], 3),
        "speedup_capture": round(a["cap_p50"] / b["cap_p50"], 1),
        "libtmux_capture_p50_ms": round(lib["docker control (b)"]["cap_p50"], 3),
        "local_lifecycle_p50_ms": round(life["local control"], 1),
        "container_lifecycle_p50_ms": round(life["docker control (b)"], 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
