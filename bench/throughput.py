"""Runner throughput and harness overhead, with the real CLIs on the scripted Gateway.

Trials per minute at concurrency 1, 2 and 4 (same suite each time: 6 tasks x 2 attempts, so
every worker meets both cold starts and warm reuse), and the harness's own overhead per
trial: a trial's wall time in its worker minus the agent's time (CLI launch to the last
turn's done), split into cold (new container, workspace copy, setup, snapshot) and warm
(pristine snapshot restored in the same container), read at concurrency 1 where CPU
contention does not inflate it. Checks are kept cheap (an answer check), so the figure is
the harness, not the task's test suite. A last run at concurrency 1 with a fresh container
for every trial (``--fresh-sandbox``) gives ``overhead_fresh_p50_s``: what warm reuse (a reset
that kills the agent's processes and restores .git, the workspace, home and /tmp) still saves
per trial is ``warm_saves_s``.

Why CPU is measured too: on the scripted Gateway the model answers at once, so a trial is
CPU work (mostly the CLI's own start-up) plus short idle waits (the prompt's render settle).
With N workers on N cores, speedup_cN can only be as high as the idle share lets the other
workers fill it; ``cpu_per_trial_s`` and ``cpu_busy_c2`` (share of all cores busy during the
c2 run) say how close a level is to that ceiling, and c4 shows the saturated machine.

Each agent in ``--agents`` is measured; the top-level figures are the first one's (claude,
the main job's CLI), every agent's are under ``by_agent``.

Prints a table, then (last line) one JSON object:
{"trials_per_min_c1", "trials_per_min_c2", "trials_per_min_c4", "speedup_c2",
 "overhead_cold_p50_s", "overhead_warm_p50_s", "overhead_fresh_p50_s", "warm_saves_s",
 "trials_per_min_fresh_c1", "cpu_per_trial_s", "cpu_busy_c2", "by_agent"}.
Never asserts. Goals (issue 5): speedup_c2 >= 1.7; overhead cold <= 1.5 s, warm <= 0.3 s.

    .venv/bin/python bench/throughput.py [--tasks 6] [--attempts 2] [--agents claude,codex] [--no-fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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


def busy_cpu_sec() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat): the engine, the
    containers and this process alike."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def measure(agent: str, suite: Any, levels: list[int], attempts: int, tmp: Path,
            fresh: bool = True) -> dict[str, Any]:
    """One agent at every concurrency level: rows, overheads, CPU; then, with ``fresh``, one
    more run at concurrency 1 with a new container per trial (row key ``"fresh"``)."""
    profile = get_profile(agent)
    store = Store(tmp / f"runs-{agent}" / "harness.db")
    rows: dict[int | str, dict[str, float]] = {}
    over: dict[int | str, tuple[list[float], list[float]]] = {}
    for c in [*levels, *(["fresh"] if fresh else [])]:
        run_id = new_run_id()
        store.create_run(run_id, suite="bench", agent=agent, model_mode="scripted", config={})
        with Gateway("scripted") as gw:
            opts = RunOptions(agent=agent, variants=[Variant("baseline")], trials=attempts,
                              concurrency=1 if c == "fresh" else int(c), model="claude-sonnet-4-5",
                              fresh_sandbox=c == "fresh")
            runner = Runner(suite, opts, RunPaths(tmp / f"runs-{agent}", run_id), store, gateway=gw, profile=profile)
            cpu0, t0 = busy_cpu_sec(), time.monotonic()
            outs = runner.run()
            wall, cpu = time.monotonic() - t0, busy_cpu_sec() - cpu0
        cold, warm = over.setdefault(c, ([], []))
        for o in outs:
            (warm if o.extra.get("warm") else cold).append(o.extra["wall_sec"] - o.extra["agent_sec"])
        n = len(outs)
        rows[c] = {"tpm": n / (wall / 60), "wall": wall, "passed": sum(o.record.status == "passed" for o in outs),
                   "n": n, "cpu_per_trial": cpu / n, "busy": cpu / wall / (os.cpu_count() or 1)}
    store.close()
    # overhead is read at the lowest concurrency: with more trials than cores, CPU contention
    # inflates every phase (the agent's too) and the figure stops describing the harness
    cold, warm = over[min(levels)]
    fresh_all = over["fresh"][0] if fresh else []
    tpm = {c: r["tpm"] for c, r in rows.items()}
    return {
        "trials_per_min_c1": round(tpm.get(1, 0.0), 2),
        "trials_per_min_c2": round(tpm.get(2, 0.0), 2),
        "trials_per_min_c4": round(tpm.get(4, 0.0), 2),
        "speedup_c2": round(tpm[2] / tpm[1], 2) if 1 in tpm and 2 in tpm else None,
        "speedup_c4": round(tpm[4] / tpm[1], 2) if 1 in tpm and 4 in tpm else None,
        "overhead_cold_p50_s": round(p50(cold), 3),
        "overhead_warm_p50_s": round(p50(warm), 3),
        "overhead_fresh_p50_s": round(p50(fresh_all), 3) if fresh else None,
        "warm_saves_s": round(p50(fresh_all) - p50(warm), 3) if fresh else None,
        "trials_per_min_fresh_c1": round(tpm["fresh"], 2) if fresh else None,
        "cpu_per_trial_s": round(rows[min(levels)]["cpu_per_trial"], 3),
        "cpu_busy_c2": round(rows[2]["busy"], 2) if 2 in rows else None,
        "_rows": rows, "_over": {c: (p50(a), p50(b), len(a), len(b)) for c, (a, b) in over.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--attempts", type=int, default=2)
    ap.add_argument("--agents", default="claude,codex", help="comma-separated; the first gives the headline")
    ap.add_argument("--levels", default="1,2,4")
    ap.add_argument("--no-fresh", action="store_true", help="skip the fresh-container-per-trial run")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        suite = load_suite(make_suite(Path(tmp) / "suite", args.tasks))
        for agent in agents:
            results[agent] = measure(agent, suite, levels, args.attempts, Path(tmp), fresh=not args.no_fresh)

    print(f"{'agent':<8}{'concurrency':<12}{'trials/min':>11}{'wall s':>9}{'passed':>9}"
          f"{'CPU s/trial':>13}{'cores busy':>12}")
    for agent, res in results.items():
        for c, r in res["_rows"].items():
            print(f"{agent:<8}{c if c != 'fresh' else '1 (fresh)':<12}{r['tpm']:>11.2f}{r['wall']:>9.1f}{r['passed']:>6}/{r['n']:<2}"
                  f"{r['cpu_per_trial']:>13.2f}{r['busy']:>11.0%}")
    for agent, res in results.items():
        print(f"{agent}: speedup c2/c1 {res['speedup_c2']} (goal >= 1.7), c4/c1 {res['speedup_c4']}; "
              f"overhead p50 at concurrency {min(levels)}: cold {res['overhead_cold_p50_s']} s (goal <= 1.5), "
              f"warm {res['overhead_warm_p50_s']} s (goal <= 0.3)")
        if res["overhead_fresh_p50_s"] is not None:
            print(f"  a fresh container per trial: overhead p50 {res['overhead_fresh_p50_s']} s; "
                  f"warm reuse saves {res['warm_saves_s']} s per trial")
        for c, (cold, warm, nc, nw) in res["_over"].items():
            name = "1, fresh containers" if c == "fresh" else c
            print(f"  (concurrency {name}: cold {cold:.3f} s n={nc}, warm {warm:.3f} s n={nw})")
    by_agent = {a: {k: v for k, v in r.items() if not k.startswith("_")} for a, r in results.items()}
    head = dict(by_agent[agents[0]])
    head.pop("speedup_c4", None)
    print(json.dumps({**head, "by_agent": by_agent}))


if __name__ == "__main__":
    main()
