"""The demo suite on real Ray clusters of this host's raylets: the same rows, files and gate
decision as a local run, trials on both nodes, a node killed mid-run losing nothing, the
real claude CLI on the scripted Gateway, and a cluster without a Docker node refused.

Why ``noop`` for the big runs: it needs no model and the demo's answer for an untouched
workspace is known (each task's tests fail on its bug): the runs are about scheduling,
evidence and faults, which the real-CLI case then shows with claude.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.ray.conftest import cli, docker_nodes_needed, kill_while_in_flight, rows, start_cli
from tests.runner.conftest import DEMO, summary

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.tmux, pytest.mark.slow]


def _files(run_dir: Path) -> dict[str, set[str]]:
    """trial -> the evidence files it left (the report's player.html aside: the report's)."""
    out: dict[str, set[str]] = {}
    for result in run_dir.glob("*/*/*/result.json"):
        d = result.parent
        out[str(d.relative_to(run_dir))] = {p.name for p in d.iterdir() if p.name != "player.html"}
    return out


def _store(runs: Path, run_id: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in rows(runs / "harness.db", "SELECT result_json FROM trials WHERE run_id=?", run_id)]


def test_the_demo_suite_on_two_nodes_matches_a_local_run(cluster_factory: Any, tmp_path: Path) -> None:
    docker_nodes_needed()
    c = cluster_factory(2)
    common = ("run", str(DEMO), "--agent", "noop", "--trials", "1", "--json")
    ray_run = cli(*common, "--executor", "ray", "--ray-address", c.address, "-j", "2",
                  "--runs-dir", str(tmp_path / "ray"))
    local_run = cli(*common, "-j", "4", "--runs-dir", str(tmp_path / "local"))
    got, want = summary(ray_run), summary(local_run)
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]
    key = lambda t: (t["task"], t["variant"], t["attempt"], t["status"])  # noqa: E731
    odd = [(t["task"], t["variant"], t["status"], t["reason"]) for t in got["trials"] + want["trials"]
           if t["status"] != "failed"]  # noop's rows all fail their checks: anything else says why
    assert sorted(map(key, got["trials"])) == sorted(map(key, want["trials"])), odd
    assert len(got["trials"]) == 10
    assert got["decision"] == want["decision"] and got["decision"] is not None
    assert _files(Path(got["run_dir"])) == _files(Path(want["run_dir"]))
    assert all({"pane.txt", "session.cast", "diff.patch", "result.json"} <= f
               for f in _files(Path(got["run_dir"])).values())
    trials = _store(tmp_path / "ray", got["run_id"])
    nodes = Counter(t.get("node") for t in trials)
    assert len(nodes) == 2 and None not in nodes, nodes  # both nodes ran trials, each row says which
    result = json.loads((Path(got["run_dir"]) / trials[0]["artifacts"] / "result.json").read_text())
    assert result["extra"]["node"] == trials[0]["node"]
    # a task's second variant reused its warm container on the node holding it
    assert any(t.get("warm") for t in trials)
    shown = cli("show", got["run_id"], "--runs-dir", str(tmp_path / "ray"))
    assert trials[0]["node"] in shown.stdout


def test_a_node_killed_mid_run_loses_nothing_and_records_nothing_twice(cluster_factory: Any,
                                                                       tmp_path: Path) -> None:
    docker_nodes_needed()
    c = cluster_factory(2)
    worker = next(iter(c.worker_nodes))
    runs = tmp_path / "runs"
    proc = start_cli("run", str(DEMO), "--agent", "noop", "--trials", "1", "--json", "--executor", "ray",
                     "--ray-address", c.address, "-j", "2", "--runs-dir", str(runs))
    db = runs / "harness.db"
    # a trial on the worker node has its agent running and no row yet: kill the node now
    done = kill_while_in_flight(proc, db, worker.node_id, lambda: c.remove_node(worker, allow_graceful=False),
                                600)
    res = summary(done)
    assert proc.returncode == 0, done.stderr[-3000:]
    keys = [(t["task"], t["variant"], t["attempt"]) for t in res["trials"]]
    assert len(keys) == 10 and len(set(keys)) == 10
    assert all(t["status"] == "failed" for t in res["trials"]), res["trials"]  # none lost to infra
    lines = (Path(res["run_dir"]) / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 10
    left = rows(db, "SELECT trial FROM events WHERE kind='infra_error' AND message LIKE '%left mid-trial%'")
    assert left, "no trial was in flight on the killed node"
    retried = {r[0] for r in left}
    survivors = {t["node"] for t in _store(runs, res["run_id"]) if f"{t['task_id']}/{t['variant']}/{t['attempt']}" in retried}
    assert len(survivors) == 1  # every retried trial finished on the node still alive
    # what the dead node left is swept by its labels (its owner process is gone)
    subprocess.run([*cli_args("gc")], capture_output=True, text=True, timeout=300, check=True)
    left_over = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.agent-harness.run-id={res['run_id']}"],
                               capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert left_over == []


def cli_args(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "harness.cli", *args]


def test_a_cluster_without_a_docker_node_is_refused_before_any_trial(cluster_factory: Any, tmp_path: Path) -> None:
    c = cluster_factory(1, resources={})
    r = cli("run", str(DEMO), "--agent", "noop", "--executor", "ray", "--ray-address", c.address,
            "--runs-dir", str(tmp_path), timeout=300)
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert any("no node of the Ray cluster advertises a Docker engine" in ln and "harness_docker" in ln
               for ln in err), r.stderr[-2000:]
    assert rows(tmp_path / "harness.db", "SELECT 1 FROM trials") == []


@pytest.mark.agents
def test_claude_runs_on_a_node_against_the_nodes_scripted_gateway(cluster_factory: Any, tmp_path: Path) -> None:
    docker_nodes_needed()
    c = cluster_factory(2)
    r = cli("run", str(DEMO), "--agent", "claude", "--task", "fix-clamp", "--variant",
            f"candidate={DEMO / 'skills' / 'candidate'}", "--trials", "1", "--json", "--executor", "ray",
            "--ray-address", c.address, "--runs-dir", str(tmp_path))
    res = summary(r)
    assert r.returncode == 0, r.stderr[-3000:]
    [trial] = res["trials"]
    assert trial["status"] == "passed", trial
    run_dir = Path(res["run_dir"])
    tdir = run_dir / "fix-clamp" / "candidate" / "0"
    assert (tdir / "transcript.jsonl").stat().st_size > 0 and "textstats.py" in (tdir / "diff.patch").read_text()
    gw = (run_dir / "gateway.jsonl").read_text().splitlines()
    assert gw, "the node's Gateway events did not reach the run's gateway.jsonl"
    assert all("sk-" not in line for line in gw)
