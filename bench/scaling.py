"""Scaling: what a waiting trial costs, how far concurrency carries the demo suite when the
model is slow, and how that compares with running the same CLIs headless.

Measured in one run, with the real CLIs on the scripted Gateway:

- ``idle_cores_per_trial``: one trial whose model reply takes ``--idle-latency`` s (a
  ``fault.latency_sec`` rule); once the Gateway holds its request open, every process's CPU
  is read from the host's /proc twice, ``--idle-window`` s apart, and grouped (the CLI, tmux
  and the relay in the container; the harness and its ``docker exec`` clients; the engine's
  shim, containerd and dockerd, which serve every container on the machine and are shown
  apart). The figure is the trial's own groups plus the shim; per agent under ``by_agent``,
  the top-level figure is claude's. ``rss_mb_per_trial`` is read at the same moment: CLI,
  tmux, relay and the harness process's share (its RSS over the concurrency it serves).
- the demo suite (``tasks/examples``, both variants) with ``--latency`` s on every reply,
  ``--trials`` trials at each of ``--levels``: ``trials_per_min_cN`` and ``speedup_cN``.
- the same suite the way headless peers run it (``bench/headless.py``: a fresh container per
  trial, ``claude -p`` typed into a shell): ``headless_trials_per_min_cN`` and
  ``ratio_vs_headless_c10`` (ours over theirs).
- ``cpu_per_trial_instant_s``: the run's own CPU per trial on the instant scripted model
  (the CLI's start-up dominates it): this process and the exec clients it reaped, its
  containers' cgroup counters and their shims, so other users of the machine do not count;
  with this project's levers on (claude's among them: its Bun engine without the DFG/FTL
  compiler tiers, see ``BUN_START_LEVERS``). The same run measures the same trials with the
  levers off (``HARNESS_WAIT_LEVERS=off``), in alternating rounds after one uncounted
  trial: ``cpu_per_trial_instant_levers_off_s`` and ``instant_cut_vs_levers_off`` (the
  fraction saved). ``--levers off`` runs everything with the levers off. The headless runs
  keep the CLIs' own engine settings either way, as peers run them.

Prints tables (every agent's figures), then (last line) one JSON object with the keys above,
the headline agent's. Never asserts. Goals (issue 14): idle_cores_per_trial <= 0.02, speedup_c10 >=
8, ratio_vs_headless_c10 >= 1.0, instant_cut_vs_levers_off >= 0.30.

    .venv/bin/python bench/scaling.py [--trials 40] [--levels 1,10,20] [--latency 4]
        [--agents claude,codex] [--levers on|off] [--skip suite,headless] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# this checkout's code, not whichever one the venv has installed (a worktree's bench would
# otherwise measure the main checkout)
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import procstat  # noqa: E402
import yaml  # noqa: E402

from controllers.profiles import get_profile  # noqa: E402
from controllers.profiles.base import Variant  # noqa: E402
from harness import engine, labels  # noqa: E402
from harness.gateway.server import Gateway  # noqa: E402
from harness.runner.paths import RunPaths  # noqa: E402
from harness.runner.run import Runner, RunOptions, default_concurrency, new_run_id  # noqa: E402
from harness.runner.store import Store  # noqa: E402
from harness.runner.variants import load_variant  # noqa: E402
from harness.tasks import load_suite  # noqa: E402

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "tasks" / "examples"
HEADLESS = {"claude": "headless:HeadlessClaude", "codex": "headless:HeadlessCodex"}
#: the groups a trial owns (the engine's daemons are shared by every container)
OWN = tuple(g for g in procstat.GROUPS if g not in procstat.SHARED)


def busy_cpu_sec() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def run_suite(agent: str, suite: Any, variants: list[Variant], attempts: int, concurrency: int,
              tmp: Path, *, fresh: bool = False, watch: Any = None) -> dict[str, Any]:
    """One run; its wall time, trials/min, passes and CPU per trial (all cores', and the run's
    own). ``watch`` (gateway, run_id) runs in a thread beside it, and then the run's own CPU
    is not sampled (the sampler's reads would count as the harness's)."""
    root = tmp / f"runs-{agent.replace(':', '-')}"
    store = Store(root / "harness.db")
    run_id = new_run_id()
    store.create_run(run_id, suite="bench", agent=agent, model_mode="scripted", config={})
    model = get_profile(agent).spec.default_model or "claude-sonnet-4-5"
    try:
        with Gateway("scripted") as gw:
            opts = RunOptions(agent=agent, variants=variants, trials=attempts, concurrency=concurrency,
                              model=model, fresh_sandbox=fresh)
            runner = Runner(suite, opts, RunPaths(root, run_id), store, gateway=gw,
                            profile=get_profile(agent))
            th = threading.Thread(target=watch, args=(gw, run_id), daemon=True) if watch else None
            cpu0, t0 = busy_cpu_sec(), time.monotonic()
            if th:
                th.start()
            own = procstat.RunCpu(lambda: _containers(run_id))
            if watch is None:
                with own:
                    outs = runner.run()
            else:
                outs = runner.run()
            wall, cpu = time.monotonic() - t0, busy_cpu_sec() - cpu0
            if th:
                th.join(timeout=120)
    finally:
        store.close()
    n = len(outs)
    return {"n": n, "wall": wall, "tpm": n / (wall / 60) if wall else 0.0,
            "passed": sum(o.record.status == "passed" for o in outs),
            "bad": sum(o.record.status in ("error", "infra_error", "timeout") for o in outs),
            # what the CLI did, to compare runs with the levers on and off: same passes, same calls
            "tool_calls": sum(o.record.tool_turns for o in outs),
            "cpu_per_trial": cpu / max(n, 1), "busy": cpu / wall / (os.cpu_count() or 1),
            "own_cpu_per_trial": own.total_sec / max(n, 1) if watch is None else float("nan"),
            "own_split": (own.harness_sec / max(n, 1), own.containers_sec / max(n, 1))
            if watch is None else (0.0, 0.0)}


def copy_with_latency(dst: Path, latency: float) -> Path:
    """The demo suite copied to ``dst``, every scripted reply made to wait ``latency`` s
    (bench/distributed.py runs the same copy through the CLI)."""
    shutil.copytree(DEMO, dst)
    pol = yaml.safe_load((dst / "policy.yaml").read_text())
    for rule in pol["rules"]:
        if latency > 0:
            rule.setdefault("fault", {})["latency_sec"] = latency
    (dst / "policy.yaml").write_text(yaml.safe_dump(pol, sort_keys=False))
    return dst


def latency_suite(dst: Path, latency: float) -> tuple[Any, list[Variant]]:
    """The latency copy of the demo suite, loaded, with its variants."""
    suite = load_suite(copy_with_latency(dst, latency))
    return suite, [load_variant(n, dst / p) for n, p in suite.config.variants.items()]


def idle_suite(dst: Path, latency: float) -> Any:
    """One task whose only reply takes ``latency`` s."""
    (dst / "ws").mkdir(parents=True)
    (dst / "ws" / "README.md").write_text("bench workspace\n")
    rule = {"match": {"user": "hello"}, "reply": {"text": "Hello! Ready to help."},
            "fault": {"latency_sec": latency}}
    task = {"schema": "harness.task/v1", "id": "wait", "prompt": "hello", "workspace": {"path": "ws"},
            "policy": {"version": 1, "rules": [rule]}, "split": "heldout", "timeout_sec": latency + 120,
            "checks": [{"op": "contains", "value": "ready"}]}
    (dst / "wait.yaml").write_text(yaml.safe_dump(task))
    return load_suite(dst)


def measure_instant(agent: str, tmp: Path, trials: int, rounds: int, *, compare: bool) -> dict[str, Any]:
    """CPU per trial on the instant model. With ``compare``, the same trials with the levers
    off in the same run (issue 14 asks for "today's" that way), in alternating rounds
    (on, off, on, off...) so that a machine whose speed drifts -- shared cores, a neighbour's
    load -- weighs on both alike. One uncounted trial first: the process's first sandbox of
    an image pays one-off costs (the walk that finds where the agent can write) that would
    land on whichever setting ran first."""
    suite = idle_suite(tmp / f"instant-{agent}", 0.0)
    was = os.environ.get("HARNESS_WAIT_LEVERS", "on")
    settings = ("on", "off") if compare else (was,)
    per_round = max(1, round(trials / rounds))
    got: dict[str, list[dict[str, Any]]] = {lv: [] for lv in settings}
    try:
        run_suite(agent, suite, [Variant("baseline")], 1, 1, tmp)
        for _ in range(rounds):
            for lv in settings:
                os.environ["HARNESS_WAIT_LEVERS"] = lv
                got[lv].append(run_suite(agent, suite, [Variant("baseline")], per_round, 1, tmp))
    finally:
        os.environ["HARNESS_WAIT_LEVERS"] = was
    out = {"instant": _pool(got[settings[0]])}
    if compare:
        out["instant_off"] = _pool(got["off"])
    return out


def _pool(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' figures as one: trial-weighted means, per-round figures kept."""
    n = sum(x["n"] for x in runs)

    def mean(f: Any) -> float:
        return sum(f(x) * x["n"] for x in runs) / max(n, 1)

    return {"n": n, "passed": sum(x["passed"] for x in runs), "tool_calls": sum(x["tool_calls"] for x in runs),
            "own_cpu_per_trial": mean(lambda x: x["own_cpu_per_trial"]),
            "cpu_per_trial": mean(lambda x: x["cpu_per_trial"]),
            "own_split": (mean(lambda x: x["own_split"][0]), mean(lambda x: x["own_split"][1])),
            "rounds": [round(x["own_cpu_per_trial"], 3) for x in runs]}


@functools.cache
def _engine() -> Any:
    """One engine client for the sampler's lookups (opening one costs CPU that the run's own
    figure would count)."""
    return engine.client()


def _containers(run_id: str) -> list[str]:
    found = _engine().containers.list(filters={"label": [f"{labels.RUN_ID}={run_id}"]})
    return [c.id for c in found]


def _container(run_id: str) -> str:
    found = _containers(run_id)
    return found[0] if found else ""


def _screen(container: str) -> str:
    """The pane as it shows while the reply is pending (to see what the CLI draws)."""
    import subprocess
    cmd = "for s in $(find / -xdev -type s -name 'tmux-*.sock' 2>/dev/null); do exec tmux -S $s capture-pane -p; done"
    try:
        return subprocess.run(["docker", "exec", "-u", "0", container, "sh", "-c", cmd], capture_output=True,
                              text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def measure_idle(agent: str, tmp: Path, latency: float, window: float) -> dict[str, Any]:
    """Per-group cores and RSS of one trial while its model reply is pending."""
    suite = idle_suite(tmp / f"idle-{agent}", latency)
    got: dict[str, Any] = {}

    def watch(gw: Gateway, run_id: str) -> None:
        t_end = time.monotonic() + latency + 120
        while time.monotonic() < t_end:  # the request is open and has sent nothing for 2 s
            tids = list(gw._trials)  # noqa: SLF001 - a bench reads the one trial's id
            if tids and gw.stalled(tids[0], 2.0):
                break
            time.sleep(0.2)
        else:
            got["error"] = "the trial's request never went pending"
            return
        container = _container(run_id)
        casts = lambda: sum(p.stat().st_size for p in tmp.glob(f"runs-*/{run_id}/**/*.cast"))  # noqa: E731
        got["waiting_sec"] = [round(gw.waiting_sec(tids[0]), 1)]
        a, t0, c0 = procstat.snapshot(), time.monotonic(), casts()
        time.sleep(window)
        b, t1, c1 = procstat.snapshot(), time.monotonic(), casts()
        got["cast_bytes_per_s"] = (c1 - c0) / (t1 - t0)
        got["waiting_sec"].append(round(gw.waiting_sec(tids[0]), 1))
        if not tids or not gw.stalled(tids[0], 0.0):
            got["error"] = "the reply came before the window ended: raise --idle-latency"
        used = procstat.cpu_by_group(a, b, container=container, harness_pid=os.getpid())
        got["cores"] = {g: v / (t1 - t0) for g, v in used.items()}
        got["rss"] = procstat.rss_by_group(b, container=container, harness_pid=os.getpid())
        got["container"] = container[:12]
        got["screen"] = _screen(container)

    run = run_suite(agent, suite, [Variant("baseline")], 1, 1, tmp, watch=watch)
    got["passed"] = run["passed"] == run["n"]
    return got


def rss_per_trial(rss: dict[str, float], concurrency: int) -> float:
    """What one more concurrent trial holds: its container's processes, and its share of
    the harness process (one process serves every trial of a run)."""
    own = sum(rss[g] for g in ("cli", "tmux", "relay", "container other", "shim", "docker exec"))
    return own + rss["harness"] / max(concurrency, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=40, help="trials per suite run (default 40)")
    ap.add_argument("--levels", default="1,10,20", help="concurrency levels (default 1,10,20)")
    ap.add_argument("--latency", type=float, default=4.0, help="seconds every demo reply waits")
    ap.add_argument("--idle-latency", type=float, default=30.0)
    ap.add_argument("--idle-window", type=float, default=20.0)
    ap.add_argument("--instant-trials", type=int, default=12,
                    help="instant-model trials per setting (levers on, and off unless --levers off)")
    ap.add_argument("--instant-rounds", type=int, default=3,
                    help="alternating rounds the instant trials are split into")
    ap.add_argument("--agents", default="claude,codex", help="the first gives the headline")
    ap.add_argument("--levers", choices=("on", "off"), default="on",
                    help="off: the CLIs animate, the harness polls and claude's engine runs as before issue 14")
    ap.add_argument("--skip", default="", help="comma-separated: idle, suite, headless, instant")
    ap.add_argument("--show-screen", action="store_true", help="print the pane while it waits")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 10 trials at 1,2; 12 s idle latency over 6 s; 2 instant")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.levels, args.idle_latency, args.idle_window = 10, "1,2", 12.0, 6.0
        args.instant_trials, args.instant_rounds = 2, 1
    os.environ["HARNESS_WAIT_LEVERS"] = args.levers
    levels = [int(x) for x in args.levels.split(",")]
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    load = os.getloadavg()
    res: dict[str, dict[str, Any]] = {a: {} for a in agents}
    with tempfile.TemporaryDirectory(prefix="harness-scaling-") as tmp_s:
        tmp = Path(tmp_s)
        for agent in agents:
            r = res[agent]
            if "idle" not in skip:
                r["idle"] = measure_idle(agent, tmp, args.idle_latency, args.idle_window)
            if "instant" not in skip:
                r.update(measure_instant(agent, tmp, args.instant_trials, args.instant_rounds,
                                         compare=args.levers == "on"))
            if agent != agents[0]:
                continue  # the suite runs are the headline agent's (the demo suite is claude's)
            suite, variants = latency_suite(tmp / "demo", args.latency)
            attempts = max(1, args.trials // (len(suite.tasks) * len(variants)))
            for c in levels:
                if "suite" not in skip:
                    r[f"c{c}"] = run_suite(agent, suite, variants, attempts, c, tmp)
                if "headless" not in skip and agent in HEADLESS:
                    r[f"headless_c{c}"] = run_suite(HEADLESS[agent], suite, variants, attempts, c, tmp,
                                                    fresh=True)
    report(res, agents, levels, args, load)


def report(res: dict[str, dict[str, Any]], agents: list[str], levels: list[int],
           args: argparse.Namespace, load: tuple[float, float, float]) -> None:
    print(f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores; "
          f"levers {args.levers}")
    by_agent: dict[str, dict[str, Any]] = {}
    for agent in agents:
        r = res[agent]
        out: dict[str, Any] = {}
        idle = r.get("idle")
        if idle and "cores" in idle:
            cores, rss = idle["cores"], idle["rss"]
            print(f"\n{agent}: one trial waiting {args.idle_latency:g} s for its reply "
                  f"(container {idle['container']}, sampled {args.idle_window:g} s)"
                  + (f" [{idle['error']}]" if "error" in idle else ""))
            print(f"  {'process group':<18}{'cores':>8}{'RSS MiB':>10}")
            for g in procstat.GROUPS:
                shared = " (shared by every container)" if g in procstat.SHARED else ""
                print(f"  {g:<18}{cores[g]:>8.3f}{rss[g]:>10.1f}{shared}")
            out["idle_cores_per_trial"] = round(procstat.total(cores, OWN), 4)
            out["idle_cores_with_engine"] = round(procstat.total(cores), 4)
            c = max(levels)
            out["rss_mb_per_trial"] = round(rss_per_trial(rss, c), 1)
            print(f"  the pane printed {idle.get('cast_bytes_per_s', 0):.0f} bytes/s meanwhile (the cast's "
                  f"growth); the model silent for {idle.get('waiting_sec')} s at the window's ends")
            if args.show_screen:
                print("  the screen meanwhile:\n    " + "\n    ".join(idle.get("screen", "").rstrip().splitlines()[-12:]))
            print(f"  trial's own cores {out['idle_cores_per_trial']:.3f} (goal <= 0.02), with the "
                  f"engine's daemons {out['idle_cores_with_engine']:.3f}; RSS per trial at "
                  f"concurrency {c}: {out['rss_mb_per_trial']} MiB")
        elif idle:
            print(f"\n{agent}: idle measure failed: {idle.get('error')}")
        if "instant" in r:
            inst = r["instant"]
            out["cpu_per_trial_instant_s"] = round(inst["own_cpu_per_trial"], 3)
            print(f"\n{agent}: instant model, the run's own CPU per trial (levers {args.levers})")
            print(f"  {'levers':<8}{'own CPU s':>10}{'harness':>9}{'containers':>12}{'all cores':>11}"
                  f"{'passed':>9}{'tool calls':>12}  per round")
            for lv, x in (("instant", args.levers), ("instant_off", "off")):
                if x and lv in r:
                    v = r[lv]
                    print(f"  {x:<8}{v['own_cpu_per_trial']:>10.3f}{v['own_split'][0]:>9.2f}{v['own_split'][1]:>12.2f}"
                          f"{v['cpu_per_trial']:>11.2f}{v['passed']:>6}/{v['n']:<2}{v['tool_calls']:>12}  "
                          + " ".join(f"{y:.2f}" for y in v.get("rounds", [])))
            print("  (harness: this process and the exec clients it reaped; containers: their cgroups; "
                  "all cores: includes everyone else's)")
            if "instant_off" in r:
                off = r["instant_off"]["own_cpu_per_trial"]
                out["cpu_per_trial_instant_levers_off_s"] = round(off, 3)
                out["instant_cut_vs_levers_off"] = round(1 - inst["own_cpu_per_trial"] / off, 3) if off else None
                print(f"  levers on against off, same run: {inst['own_cpu_per_trial'] / off - 1:+.1%} "
                      f"(goal: -30% or lower)")
        rows = [(k, v) for k, v in r.items() if k.startswith(("c", "headless_c")) and isinstance(v, dict) and "tpm" in v]
        if rows:
            print(f"\n{agent}: demo suite, {args.latency:g} s per reply")
            print(f"  {'run':<16}{'trials/min':>11}{'wall s':>9}{'passed':>9}{'failed/err':>11}"
                  f"{'own CPU s/trial':>16}{'cores busy':>12}{'tool calls':>12}")
            for k, v in rows:
                print(f"  {k:<16}{v['tpm']:>11.2f}{v['wall']:>9.1f}{v['passed']:>6}/{v['n']:<2}{v['bad']:>11}"
                      f"{v['own_cpu_per_trial']:>16.2f}{v['busy']:>11.0%}{v['tool_calls']:>12}")
        for c in levels:
            if f"c{c}" in r:
                out[f"trials_per_min_c{c}"] = round(r[f"c{c}"]["tpm"], 2)
            if f"headless_c{c}" in r:
                out[f"headless_trials_per_min_c{c}"] = round(r[f"headless_c{c}"]["tpm"], 2)
        for c in levels:
            if c != 1 and "c1" in r and f"c{c}" in r:
                out[f"speedup_c{c}"] = round(r[f"c{c}"]["tpm"] / r["c1"]["tpm"], 2)
        for c in levels:
            if f"c{c}" in r and f"headless_c{c}" in r:
                out[f"ratio_vs_headless_c{c}"] = round(r[f"c{c}"]["tpm"] / r[f"headless_c{c}"]["tpm"], 2)
        by_agent[agent] = out
    head = by_agent[agents[0]]
    keys = ("idle_cores_per_trial", "trials_per_min_c1", "trials_per_min_c10", "trials_per_min_c20",
            "speedup_c10", "speedup_c20", "headless_trials_per_min_c10", "ratio_vs_headless_c10",
            "cpu_per_trial_instant_s", "cpu_per_trial_instant_levers_off_s", "instant_cut_vs_levers_off",
            "rss_mb_per_trial")
    for agent, out in by_agent.items():
        print(f"{agent}: " + ", ".join(f"{k} {v}" for k, v in out.items()))
    print(f"default concurrency on this machine: {default_concurrency()}")
    print(json.dumps({k: head.get(k) for k in keys}))


if __name__ == "__main__":
    main()
