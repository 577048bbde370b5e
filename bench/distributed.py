"""Distributed: the demo-like suite on a Ray cluster of 1 node and of N nodes at the same
per-node concurrency, and a run that loses a node mid-way (issue 16, item 8).

Every reply of the scripted model waits ``--latency`` s (a ``fault.latency_sec`` on each rule
of the demo's policy), so trials are model-bound as real ones are. ``run_suite`` runs the
suite through the real ``harness run --executor ray`` and returns trials/min (first trial
start to last trial end, from the store), how many trials were lost (planned, no row) and
duplicated (more than one row or result line for one key).

``__main__`` starts the clusters on this host (``ray.cluster_utils.Cluster``: real raylets on
loopback, each advertising ``harness_docker``); ``--address`` runs against a cluster that is
already up instead (then ``--nodes`` says how many of its nodes to count on; the 1-node run
needs ``--address-1node``); ``--rig`` runs each on the multi-node rig (tests/ray/rig.py): the
head on this host and ``nodes - 1`` worker containers, each a host with its own address and
Docker engine, and the kill run SIGKILLs a worker container. Prints, never asserts. Last line, one JSON object::

    {"nodes": 2, "trials": .., "trials_per_min_1node": .., "trials_per_min_2nodes": ..,
     "speedup_2nodes": .., "lost": .., "duplicated": .., "node_kill_recovered": ..}

Goal: speedup_2nodes >= 1.8, lost 0, duplicated 0 (on one host the nodes share its cores:
the speedup there says little; the multi-node rig measures it).

    .venv/bin/python bench/distributed.py [--agent claude] [--trials 2] [--per-node 4]
        [--latency 4] [--nodes 2] [--skip kill] [--rig]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from scaling import copy_with_latency  # bench/ is this script's folder

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "tasks" / "examples"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    for _ in range(50):
        try:
            with sqlite3.connect(db, timeout=10) as c:
                return list(c.execute(sql, params))
        except sqlite3.OperationalError:
            time.sleep(0.2)
    return []


def run_suite(address: str, suite: Path, runs: Path, *, agent: str, per_node: int, trials: int,
              kill: Any = None, timeout_sec: float = 3600,
              env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``harness run --executor ray`` of ``suite``; ``kill(db)`` (optional) is called
    from a watcher thread while it runs and may remove a node. Returns trials, trials/min,
    lost, duplicated, infra retries and the nodes seen."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HARNESS_INFRA_BACKOFF_SEC": "3", **(env_extra or {})}
    cmd = [sys.executable, "-m", "harness.cli", "run", str(suite), "--agent", agent, "--trials", str(trials),
           "--json", "--executor", "ray", "--ray-address", address, "-j", str(per_node), "--runs-dir", str(runs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    watcher = None
    if kill is not None:
        watcher = threading.Thread(target=kill, args=(runs / "harness.db", proc), daemon=True)
        watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout_sec)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("{")), None)
    if line is None:
        return {"error": (err.strip().splitlines() or ["no output"])[-1], "trials": 0, "trials_per_min": 0.0,
                "lost": None, "duplicated": None}
    summary = json.loads(line)
    db = runs / "harness.db"
    got = _rows(db, "SELECT task_id, variant, attempt, started_at, finished_at, result_json FROM trials "
                    "WHERE run_id=?", summary["run_id"])
    planned = 5 * 2 * trials  # the demo: five tasks, two variants
    keys = Counter((r[0], r[1], r[2]) for r in got)
    lines = Path(summary["run_dir"], "trials.jsonl").read_text().splitlines()
    line_keys = Counter((d["task_id"], d["variant"], d["attempt"]) for d in map(json.loads, lines))
    starts = [r[3] for r in got if r[3]]
    ends = [r[4] for r in got if r[4]]
    span_min = (max(ends) - min(starts)) / 60 if starts and ends else float("nan")
    node_of = [json.loads(r[5]).get("node") or "?" for r in got]
    times_by_node: dict[str, list[float]] = {}  # not ``per_node``: that is the concurrency
    for r, node in zip(got, node_of, strict=True):
        if r[3] and r[4]:
            times_by_node.setdefault(node, []).append(r[4] - r[3])
    retried = _rows(db, "SELECT COUNT(*) FROM events WHERE run_id=? AND kind='infra_error'", summary["run_id"])
    return {"run_id": summary["run_id"], "rc": proc.returncode, "trials": len(keys),
            "trials_per_min": round(len(got) / span_min, 2) if span_min == span_min and span_min > 0 else 0.0,
            "lost": planned - len(keys),
            "duplicated": sum(n - 1 for n in keys.values()) + sum(n - 1 for n in line_keys.values()),
            "infra_retries": retried[0][0] if retried else 0,
            "nodes": sorted(set(node_of)),
            # the mean trial time on each node: a slower host (a worker's own engine inside a
            # container) shows here, apart from how well the trials were spread
            "trial_sec_by_node": {n: round(sum(d) / len(d), 1) for n, d in sorted(times_by_node.items())},
            "statuses": dict(Counter(t["status"] for t in summary["trials"]))}


def _cluster(nodes: int) -> Any:
    from ray.cluster_utils import Cluster

    res = {"harness_docker": 1}
    c = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 1, "resources": res, "node_ip_address": "127.0.0.1", "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}})
    for _ in range(nodes - 1):
        c.add_node(num_cpus=1, resources=res, node_ip_address="127.0.0.1")
    c.wait_for_nodes(timeout=120)
    return c


def _killer(c: Any) -> Any:
    """Removes the first worker node once one of its trials runs (attached, no row yet)."""
    worker = next(iter(c.worker_nodes))
    sql = ("SELECT 1 FROM events p JOIN events a ON a.trial = p.trial AND a.kind = 'attach' "
           "WHERE p.kind = 'placed' AND p.message LIKE ? AND p.trial NOT IN "
           "(SELECT task_id || '/' || variant || '/' || attempt FROM trials)")

    def kill(db: Path, proc: subprocess.Popen[str]) -> None:
        while proc.poll() is None:
            if db.exists() and _rows(db, sql, f"%/{worker.node_id[:8]}"):
                c.remove_node(worker, allow_graceful=False)
                print("  killed node", worker.node_id[:8], flush=True)
                return
            time.sleep(0.2)
    return kill


def _rig_killer(rig: Any) -> Any:
    """SIGKILLs the rig's first worker container once one of its trials runs."""
    worker = rig.workers[0]
    sql = ("SELECT 1 FROM events p JOIN events a ON a.trial = p.trial AND a.kind = 'attach' "
           "WHERE p.kind = 'placed' AND p.message LIKE ? AND p.trial NOT IN "
           "(SELECT task_id || '/' || variant || '/' || attempt FROM trials)")

    def kill(db: Path, proc: subprocess.Popen[str]) -> None:
        while proc.poll() is None:
            if db.exists() and _rows(db, sql, f"%{worker.node_id[:8]}"):
                rig.kill_worker(0, how="container")
                print("  killed worker container", worker.name, flush=True)
                return
            time.sleep(0.2)
    return kill


def _rigs(nodes: int, images: list[str]) -> Any:
    """Context manager factory: the multi-node rig (tests/ray/rig.py) with ``nodes - 1``
    worker containers, each with its own engine holding ``images``."""
    sys.path.insert(0, str(REPO))
    import docker

    from harness import images as harness_images
    from tests.ray.rig import ImageCache, RayRig

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # the rig's nodes hold no token
    client = docker.from_env(timeout=300)
    tag = harness_images.build(client, "ray-node", say=print)
    tags: list[str] = []
    for name in images:
        tags += [harness_images.ensure_image(client, name, say=print), harness_images.latest_tag(name)]
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-rig-images-"))
    return RayRig(workers=nodes - 1, image=tag, load_tags=tags, cache=ImageCache(cache_dir),
                  say=print), cache_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agent", default="claude")
    ap.add_argument("--trials", type=int, default=2, help="attempts per task and variant")
    ap.add_argument("--per-node", type=int, default=4, help="trials at once on each node")
    ap.add_argument("--latency", type=float, default=4.0, help="seconds every scripted reply waits")
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--address", help="a running cluster of --nodes Docker nodes (else one is started here)")
    ap.add_argument("--address-1node", help="a running one-node cluster for the 1-node figure")
    ap.add_argument("--skip", default="", help="comma list of: 1node, kill")
    ap.add_argument("--rig", action="store_true",
                    help="run on the multi-node rig: the head on this host, worker containers "
                         "with their own Docker engines (tests/ray/rig.py)")
    ap.add_argument("--images", default=None,
                    help="with --rig: images loaded into each worker (default: base and the "
                         "agent's; a worker without the agent's image builds it at its node "
                         "agent's start, or is left out of the run when that takes too long)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    out: dict[str, Any] = {"nodes": args.nodes}
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        suite = copy_with_latency(Path(tmp) / "demo", args.latency)
        runs: dict[str, dict[str, Any]] = {}
        plan = [("1node", 1, None), (f"{args.nodes}nodes", args.nodes, None), ("kill", args.nodes, "kill")]
        for name, nodes, kill in plan:
            if name in skip:
                continue
            if args.rig:
                runs[name] = _on_rig(args, name, nodes, kill, suite, Path(tmp))
                continue
            given = args.address_1node if nodes == 1 else args.address
            c = None if given else _cluster(nodes)
            try:
                address = given or c.address
                print(f"{name}: {nodes} node(s) at {address}, {args.per_node} per node, {args.agent}", flush=True)
                runs[name] = run_suite(address, suite, Path(tmp) / f"runs-{name}", agent=args.agent,
                                       per_node=args.per_node, trials=args.trials,
                                       kill=_killer(c) if kill and c is not None else None)
                print(f"  {json.dumps(runs[name])}", flush=True)
            finally:
                if c is not None:
                    c.shutdown()
    one, many, kill = runs.get("1node", {}), runs.get(f"{args.nodes}nodes", {}), runs.get("kill", {})
    r1, r2 = one.get("trials_per_min") or 0.0, many.get("trials_per_min") or 0.0
    print(f"\n{'run':<10}{'trials':>8}{'per min':>10}{'lost':>6}{'dup':>6}{'retries':>9}  nodes")
    for name, r in runs.items():
        print(f"{name:<10}{r.get('trials', 0):>8}{r.get('trials_per_min', 0):>10}{str(r.get('lost')):>6}"
              f"{str(r.get('duplicated')):>6}{str(r.get('infra_retries')):>9}  {len(r.get('nodes', []))}")
    for name, r in runs.items():
        by_node = ", ".join(f"{n} {sec} s" for n, sec in (r.get("trial_sec_by_node") or {}).items())
        if by_node:
            print(f"{name:<10}mean trial time by node: {by_node}")
    for name, r in runs.items():
        if name == "kill":  # the killed node's trials end elsewhere: it may hold no row
            continue
        want = 1 if name == "1node" else args.nodes
        if r.get("nodes") is not None and len(r["nodes"]) < want:
            print(f"note: {name} ran its trials on {len(r['nodes'])} of {want} node(s): a node "
                  f"was left out (see the run's `node` events), so its figure is not a {want}-node one")
    lost = [r.get("lost") for r in runs.values() if r.get("lost") is not None]
    dup = [r.get("duplicated") for r in runs.values() if r.get("duplicated") is not None]
    out.update({
        "trials": many.get("trials") or one.get("trials") or 0,
        "trials_per_min_1node": r1, f"trials_per_min_{args.nodes}nodes": r2,
        f"speedup_{args.nodes}nodes": round(r2 / r1, 2) if r1 else None,
        "lost": sum(lost) if lost else None, "duplicated": sum(dup) if dup else None,
        "node_kill_recovered": (kill.get("lost") == 0 and kill.get("duplicated") == 0
                                and kill.get("infra_retries", 0) > 0) if kill else None,
    })
    print(json.dumps(out))


def _on_rig(args: Any, name: str, nodes: int, kill: Any, suite: Path, tmp: Path) -> dict[str, Any]:
    """One run on a fresh rig of ``nodes`` hosts (the head plus ``nodes - 1`` containers)."""
    wanted = args.images if args.images is not None else f"base,{args.agent}"
    rig, cache_dir = _rigs(nodes, [i for i in wanted.split(",") if i])
    try:
        rig.start()
        print(f"{name}: rig of {nodes} host(s) at {rig.address}, {args.per_node} per node, "
              f"{args.agent}", flush=True)
        r = run_suite(rig.address, suite, tmp / f"runs-{name}", agent=args.agent,
                      per_node=args.per_node, trials=args.trials,
                      kill=_rig_killer(rig) if kill else None, env_extra=rig.driver_env())
        print(f"  {json.dumps(r)}", flush=True)
        return r
    finally:
        rig.close()
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
