"""Runner throughput and harness overhead, with the real claude CLI on the scripted Gateway.

Trials per minute at concurrency 1, 2 and 4 (same suite each time: 4 tasks x 2 attempts, so
every worker meets both cold starts and warm reuse), and the harness's own overhead per
trial: a trial's wall time in its worker minus the agent's time (CLI launch to the last
turn's done), split into cold (new container, workspace copy, setup, snapshot) and warm
(pristine snapshot restored in the same container), read at concurrency 1 where CPU
contention does not inflate it. Checks are kept cheap (an answer
check), so the figure is the harness, not the task's test suite.

Prints a table, then (last line) one JSON object:
{"trials_per_min_c1", "trials_per_min_c2", "trials_per_min_c4", "speedup_c2",
 "overhead_cold_p50_s", "overhead_warm_p50_s"}. Never asserts.
Goals (issue 5): speedup_c2 >= 1.7; overhead cold <= 1.5 s, warm <= 0.3 s.

    .venv/bin/python bench/throughput.py [--tasks 4] [--attempts 2] [--agent claude]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from controllers.profiles import get_profile
from controllers.profiles.base import Variant
from harness.gateway.server import Gateway
from harness.runner.paths import RunPaths
from harness.runner.run import Runner, RunOptions, new_run_id
from harness.runner.store import Store
from harness.tasks import load_suite

POLICY = {"version": 1, "rules": [
    {"match": {"user": "hello", "step": 0}, "reply": {"text": "Hello! Ready to help."}},
]}


def make_suite(root: Path, n_tasks: int) -> Path:
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "README.md").write_text("bench workspace\n")
    for i in range(n_tasks):
        task = {"schema": "harness.task/v1", "id": f"bench-{i}", "prompt": f"hello {i}",
                "workspace": {"path": "ws"}, "policy": POLICY, "split": "heldout", "timeout_sec": 120,
                "checks": [{"op": "contains", "value": "ready"}]}
        (root / f"t{i}.yaml").write_text(yaml.safe_dump(task))
    return root


def p50(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--attempts", type=int, default=2)
    ap.add_argument("--agent", default="claude")
    ap.add_argument("--levels", default="1,2,4")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rows: dict[int, tuple[float, float, int, int]] = {}
    over: dict[int, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        suite = load_suite(make_suite(Path(tmp) / "suite", args.tasks))
        profile = get_profile(args.agent)
        store = Store(Path(tmp) / "runs" / "harness.db")
        for c in levels:
            run_id = new_run_id()
            store.create_run(run_id, suite="bench", agent=args.agent, model_mode="scripted", config={})
            with Gateway("scripted") as gw:
                opts = RunOptions(agent=args.agent, variants=[Variant("baseline")], trials=args.attempts,
                                  concurrency=c, model="claude-sonnet-4-5")
                runner = Runner(suite, opts, RunPaths(Path(tmp) / "runs", run_id), store, gateway=gw, profile=profile)
                t0 = time.monotonic()
                outs = runner.run()
                wall = time.monotonic() - t0
            statuses = [o.record.status for o in outs]
            cold, warm = over.setdefault(c, ([], []))
            for o in outs:
                (warm if o.extra["warm"] else cold).append(o.extra["wall_sec"] - o.extra["agent_sec"])
            rows[c] = (len(outs) / (wall / 60), wall, statuses.count("passed"), len(outs))
        store.close()
    # overhead is read at the lowest concurrency: with more trials than cores, CPU contention
    # inflates every phase (the agent's too) and the figure stops describing the harness
    cold, warm = over[min(over)]
    out = {
        "trials_per_min_c1": round(rows.get(1, (0,))[0], 2),
        "trials_per_min_c2": round(rows.get(2, (0,))[0], 2),
        "trials_per_min_c4": round(rows.get(4, (0,))[0], 2),
        "speedup_c2": round(rows[2][0] / rows[1][0], 2) if 1 in rows and 2 in rows else None,
        "overhead_cold_p50_s": round(p50(cold), 3),
        "overhead_warm_p50_s": round(p50(warm), 3),
    }
    print(f"{'concurrency':<12}{'trials/min':>11}{'wall s':>9}{'passed':>9}")
    for c, (tpm, wall, ok, n) in rows.items():
        print(f"{c:<12}{tpm:>11.2f}{wall:>9.1f}{ok:>6}/{n}")
    print(f"speedup c2/c1: {out['speedup_c2']}   (goal >= 1.7)")
    print(f"overhead per trial p50 at concurrency {min(over)}: cold {out['overhead_cold_p50_s']} s "
          f"(goal <= 1.5, n={len(cold)}), warm {out['overhead_warm_p50_s']} s (goal <= 0.3, n={len(warm)})")
    for c, (cl, wa) in over.items():
        print(f"  (concurrency {c}: cold {p50(cl):.3f} s, warm {p50(wa):.3f} s)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
