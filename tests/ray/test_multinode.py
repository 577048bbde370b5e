"""The Ray executor on the multi-node rig (issue 16 item 7): the head on this host and a
worker container with its own address and Docker engine, driven through the real
``harness run --executor ray``.

What only a second host shows: trials recorded on both node ids, the gate deciding as a
local run does, and a worker container SIGKILLed mid-run losing nothing (its in-flight
trials come back as infra retries and finish on the head). ``noop`` keeps the runs quick:
the demo's answer for an untouched workspace is known; the runs are about placement and
faults. One rig serves the module (the session fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.ray.conftest import kill_while_in_flight, rows
from tests.ray.rig import RayRig, docker_env
from tests.runner.conftest import DEMO, REPO, summary

pytestmark = [pytest.mark.ray, pytest.mark.docker, pytest.mark.tmux, pytest.mark.slow]

RUN_TIMEOUT_SEC = 1200
#: a trial of the worker node has its agent attached and no row yet


def _env(rig: RayRig | None, docker_host: str | None = None) -> dict[str, str]:
    env = dict(docker_env(docker_host), HARNESS_INFRA_BACKOFF_SEC="3", COLUMNS="300")
    env.pop("HARNESS_RUNS_DIR", None)
    env.pop("RAY_ADDRESS", None)
    if rig is not None:
        env.update(rig.driver_env())
    return env


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def _cli(rig: RayRig | None, *args: str, docker_host: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(*args), capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC,
                          cwd=REPO, env=_env(rig, docker_host))


def _store(runs: Path, run_id: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in
            rows(runs / "harness.db", "SELECT result_json FROM trials WHERE run_id=?", run_id)]


def _node_of(trial: dict[str, Any], rig: RayRig) -> str:
    """The rig node id whose short form the record's node name ends with ('' if none)."""
    name = str(trial.get("node") or "")
    return next((nid for nid in rig.node_ids() if name.endswith(nid[:8])), "")


def test_demo_suite_runs_on_both_hosts_and_gates_as_locally(ray_rig: RayRig, tmp_path: Path) -> None:
    common = ("run", str(DEMO), "--agent", "noop", "--trials", "1", "--json")
    ray_run = _cli(ray_rig, *common, "--executor", "ray", "--ray-address", ray_rig.address,
                   "-j", "2", "--runs-dir", str(tmp_path / "ray"))
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]
    local_run = _cli(None, *common, "-j", "2", "--runs-dir", str(tmp_path / "local"))
    got, want = summary(ray_run), summary(local_run)
    key = lambda t: (t["task"], t["variant"], t["attempt"], t["status"])  # noqa: E731
    assert sorted(map(key, got["trials"])) == sorted(map(key, want["trials"]))
    assert len(got["trials"]) == 10
    assert got["decision"] == want["decision"] and got["decision"] is not None
    trials = _store(tmp_path / "ray", got["run_id"])
    seen = Counter(_node_of(t, ray_rig) for t in trials)
    events = rows(tmp_path / "ray" / "harness.db", "SELECT kind, message FROM events WHERE run_id=? "
                  "AND kind IN ('node', 'infra_error')", got["run_id"])
    assert set(seen) == set(ray_rig.node_ids()), "\n".join(f"{k}: {m}" for k, m in events)


def test_worker_host_killed_mid_run_loses_nothing_and_is_swept(ray_rig: RayRig,
                                                               tmp_path: Path) -> None:
    worker = ray_rig.workers[0]
    runs = tmp_path / "runs"
    db = runs / "harness.db"
    proc = subprocess.Popen(
        _argv("run", str(DEMO), "--agent", "noop", "--trials", "1", "--json", "--executor", "ray",
              "--ray-address", ray_rig.address, "-j", "2", "--runs-dir", str(runs)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env(ray_rig))
    done = kill_while_in_flight(proc, db, worker.node_id, lambda: ray_rig.kill_worker(0, how="container"),
                                RUN_TIMEOUT_SEC)
    res = summary(done)
    assert proc.returncode == 0, done.stderr[-3000:]
    keys = [(t["task"], t["variant"], t["attempt"]) for t in res["trials"]]
    assert len(keys) == 10 and len(set(keys)) == 10
    assert all(t["status"] == "failed" for t in res["trials"]), res["trials"]  # none lost to infra
    lines = (Path(res["run_dir"]) / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 10
    stored = _store(runs, res["run_id"])
    assert len(stored) == 10
    left = {r[0] for r in rows(db, "SELECT trial FROM events WHERE run_id=? AND kind='infra_error' "
                                   "AND message LIKE '%left mid-trial%'", res["run_id"])}
    assert left, "no trial was in flight on the killed worker"
    redone = {_node_of(t, ray_rig) for t in stored
              if f"{t['task_id']}/{t['variant']}/{t['attempt']}" in left}
    assert redone == {ray_rig.head_node_id}, redone  # retried on the head, the one host left

    # the worker comes back with what the kill left on its disk; the next run's node agent
    # there (the only process that can tell its owner is gone: same host) sweeps it
    back = ray_rig.revive_worker(0)

    def left_on_worker() -> list[str]:
        ps = subprocess.run(["docker", "ps", "-aq", "--filter",
                             f"label=io.agent-harness.run-id={res['run_id']}"],
                            capture_output=True, text=True, timeout=60,
                            env=docker_env(back.docker_host), check=True)
        return ps.stdout.split()

    left = left_on_worker()
    assert left, "the killed worker's engine kept nothing of the run"
    # `harness gc` from this host cannot check a pid on the worker: it keeps them, and says so
    gc = _cli(None, "gc", docker_host=back.docker_host)
    assert gc.returncode == 0, gc.stderr[-2000:]
    assert f"owned by runs on host {back.name}" in gc.stdout, gc.stdout
    assert left_on_worker() == left
    again = _cli(ray_rig, "run", str(DEMO), "--agent", "noop", "--task", keys[0][0], "--json",
                 "--executor", "ray", "--ray-address", ray_rig.address,
                 "--runs-dir", str(tmp_path / "runs2"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert left_on_worker() == [], "the revived worker's node agent did not sweep the dead run's"
    assert os.environ.get("RAY_AUTH_MODE") == "disabled"  # the clusters the CLI joined: no token
