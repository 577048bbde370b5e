"""`harness run --resume` after the runner was SIGKILLed mid-run: no completed trial is lost
or re-run, the rest run, and the containers the killed process left are swept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness import labels
from harness.runner.store import Store
from tests.runner.conftest import DEMO, REPO, harness_cli, summary

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]
TASKS = ["--task", "fix-median", "--task", "fix-clamp", "--trials", "1"]


def _start_run(runs: Path, *, capture: bool = False) -> subprocess.Popen[str]:
    """The demo's two tasks on claude, one attempt each, one worker, in its own process
    group. Without ``capture`` its output goes to ``runs/../run.log`` (shown when it fails)."""
    runs.parent.mkdir(parents=True, exist_ok=True)
    out: Any = subprocess.PIPE if capture else (runs.parent / "run.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(DEMO), "--agent", "claude", "-j", "1",
         "--runs-dir", str(runs), *TASKS], cwd=REPO, stdout=out,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def _wait_completed(p: subprocess.Popen[str], runs: Path, n: int) -> tuple[str | None, set[Any]]:
    """(run id, completed keys) once ``n`` trials are complete in the store; the run must
    still be going then."""
    db = runs / "harness.db"
    deadline = time.monotonic() + 600
    run_id, done = None, set()
    while time.monotonic() < deadline and len(done) < n:
        time.sleep(0.5)
        if db.exists():
            with Store(db) as s:
                run_id = s.latest_run_id()
                done = s.completed_keys(run_id) if run_id else set()
        if p.poll() is not None:
            log = runs.parent / "run.log"
            said = log.read_text()[-3000:] if log.exists() else (p.stdout.read()[-3000:] if p.stdout else "")
            raise AssertionError(f"the run ended (exit {p.returncode}) before it could be stopped:\n{said}")
    assert len(done) >= n, "no trial completed in time"
    return run_id, done


def test_resume_after_sigkill(tmp_path: Path, docker_client: Any) -> None:
    runs = tmp_path / "runs"
    p = _start_run(runs)
    try:
        run_id, done = _wait_completed(p, runs, 2)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    assert run_id is not None
    before = {k: json.loads((runs / run_id / k[0] / k[1] / str(k[2]) / "result.json").read_text())
              for k in done}
    r = harness_cli("run", "--resume", run_id, "--runs-dir", str(runs), "--json")
    s = summary(r)
    assert s["run_id"] == run_id and len(s["trials"]) == 4
    assert {t["status"] for t in s["trials"]} <= {"passed", "failed"}, s["trials"]
    for k, res in before.items():  # completed trials were kept as they were, not re-run
        after = json.loads((runs / run_id / k[0] / k[1] / str(k[2]) / "result.json").read_text())
        assert after["extra"]["finished_at"] == res["extra"]["finished_at"]
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})
    assert left == [], [c.name for c in left]  # the resumed run's start swept the killed one's
    with Store(runs / "harness.db") as st:
        assert st.run(run_id)["status"] == "complete"


def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_run(tmp_path: Path, docker_client: Any) -> None:
    """SIGINT (a terminal's Ctrl-C) mid-run: the process ends promptly with 130 and says how
    to resume, the run is marked interrupted, its containers are gone, and --resume finishes."""
    runs = tmp_path / "runs"
    db = runs / "harness.db"
    p = _start_run(runs, capture=True)
    try:
        run_id, done = _wait_completed(p, runs, 1)
        os.killpg(p.pid, signal.SIGINT)
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
    assert run_id is not None
    assert p.returncode == 130, out[-2000:]
    assert f"harness run --resume {run_id}" in out
    with Store(db) as st:
        assert st.run(run_id)["status"] == "interrupted"
        kept = st.completed_keys(run_id)
        views = [e for e in st.events(run_id, limit=1000) if e["kind"] == "view"]
    assert views and all("capture-pane" in e["message"] for e in views)  # what `harness watch` reads
    assert kept >= done
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})
    assert left == [], [c.name for c in left]  # released by their owner on the way out
    r = harness_cli("run", "--resume", run_id, "--runs-dir", str(runs), "--json")
    s = summary(r)
    assert len(s["trials"]) == 4 and {t["status"] for t in s["trials"]} <= {"passed", "failed"}, s["trials"]


def test_resume_is_refused_while_the_owner_runs_then_takes_over(tmp_path: Path, docker_client: Any) -> None:
    """One run, one owner: `--resume` of a run whose process is alive is refused in one line
    naming its pid (exit 2, nothing started); once that process is killed, it resumes."""
    runs = tmp_path / "runs"
    p = _start_run(runs)
    try:
        run_id, _ = _wait_completed(p, runs, 1)
        assert run_id is not None
        refused = harness_cli("run", "--resume", run_id, "--runs-dir", str(runs), "--json", timeout=120)
        assert p.poll() is None, "the owner ended before the refusal could be seen"
        with Store(runs / "harness.db") as st:
            starts = [e for e in st.events(run_id) if e["kind"] == "start"]
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"still running in process {p.pid}" in lines[0], refused.stderr
    assert not refused.stdout.strip()
    assert len(starts) == 1  # the refused process did not start the run a second time
    s = summary(harness_cli("run", "--resume", run_id, "--runs-dir", str(runs), "--json"))
    assert s["run_id"] == run_id and len(s["trials"]) == 4
    assert {t["status"] for t in s["trials"]} <= {"passed", "failed"}, s["trials"]
