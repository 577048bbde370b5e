"""One run, one owner: the run's lock is granted to one process, names it to the others,
and passes to the next process once its owner is gone (however it died)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.runner.ownership import LOCK_NAME, RunLock, RunOwned, read_holder
from harness.runner.store import Store
from tests.runner.conftest import REPO, harness_cli

#: a process that waits for the go file, tries the lock, says what happened, and (when it
#: won) holds the lock until the stop file appears
CONTENDER = """
import os, sys, time
from pathlib import Path
from harness.runner.ownership import RunLock, RunOwned
run_dir, go, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
try:
    lock = RunLock(run_dir, "r1").acquire()
except RunOwned as exc:
    print("refused", exc.one_line(), flush=True)
    sys.exit(3)
print("won", os.getpid(), flush=True)
while not stop.exists():
    time.sleep(0.01)
lock.release()
"""


def _contenders(tmp_path: Path, n: int, run_dir: Path | None = None
                ) -> tuple[list[subprocess.Popen[str]], Path, Path]:
    go, stop = tmp_path / "go", tmp_path / "stop"
    run = run_dir or tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(run), str(go), str(stop)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(n)]
    return procs, go, stop


def test_processes_started_together_get_one_owner(tmp_path: Path) -> None:
    procs, go, stop = _contenders(tmp_path, 6)
    try:
        time.sleep(1.5)  # every contender is importing, then spinning on the go file
        go.touch()
        refused = []
        for p in procs:  # the losers answer at once; the winner holds on
            try:
                out, _ = p.communicate(timeout=30)
                refused.append((p.pid, p.returncode, out))
            except subprocess.TimeoutExpired:
                pass
        winners = [p for p in procs if p.poll() is None]
        assert len(winners) == 1, refused
        pid = winners[0].pid
        assert len(refused) == 5
        for _pid, rc, out in refused:
            assert rc == 3 and out.startswith("refused"), out
            assert f"still running in process {pid}" in out and f"kill {pid}" in out, out
        assert read_holder(tmp_path / "run" / LOCK_NAME)["pid"] == pid
    finally:
        stop.touch()
        for p in procs:
            p.wait(timeout=30)
    assert winners[0].returncode == 0
    with RunLock(tmp_path / "run", "r1") as lock:  # released: the next process takes it
        assert lock.held


def test_a_killed_owner_leaves_the_run_to_the_next_process(tmp_path: Path) -> None:
    procs, go, _stop = _contenders(tmp_path, 1)
    go.touch()
    p = procs[0]
    assert p.stdout is not None and p.stdout.readline().startswith("won")
    with pytest.raises(RunOwned, match=f"process {p.pid}"):
        RunLock(tmp_path / "run", "r1").acquire()
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    # its name is still in the file, but the kernel dropped its lock with the process
    assert read_holder(tmp_path / "run" / LOCK_NAME)["pid"] == p.pid
    lock = RunLock(tmp_path / "run", "r1").acquire()
    try:
        assert read_holder(tmp_path / "run" / LOCK_NAME)["pid"] == os.getpid()
    finally:
        lock.release()
        lock.release()  # safe twice


def test_a_recorded_pid_that_is_alive_does_not_block_an_unlocked_run(tmp_path: Path) -> None:
    """Pid reuse: the file names a live process (this one, with another start time) that
    does not hold the lock; the lock, not the name, decides."""
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "start": "1", "host": "x"}))
    with RunLock(run, "r1") as lock:
        assert lock.held


def test_a_held_lock_whose_recorded_owner_is_gone_does_not_name_it(tmp_path: Path) -> None:
    holder = RunLock(tmp_path / "run", "r1").acquire()
    try:
        # what a reused pid looks like: the recorded pid is this process, its start differs
        (tmp_path / "run" / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "start": "1"}))
        with pytest.raises(RunOwned) as info:
            RunLock(tmp_path / "run", "r1").acquire()
        msg = info.value.one_line()
        assert "another process" in msg and f"pid {os.getpid()} is gone" in msg, msg
    finally:
        holder.release()


def test_resume_is_refused_in_one_line_while_the_owner_lives(tmp_path: Path) -> None:
    """The CLI: `harness run --resume RUN` exits non-zero before it starts anything, with
    one line naming the owner's pid and what to do."""
    runs = tmp_path / "runs"
    with Store(runs / "harness.db") as st:
        st.create_run("r1", suite=str(tmp_path), agent="noop", model_mode="scripted",
                      config={"suite": str(tmp_path), "agent": "noop", "variants": {"baseline": "none"},
                              "trials": 1, "model": "scripted", "model_name": "m"})
    procs, go, stop = _contenders(tmp_path, 1, runs / "r1")
    p = procs[0]
    try:
        go.touch()
        assert p.stdout is not None and p.stdout.readline().startswith("won")
        r = harness_cli("run", "--resume", "r1", "--runs-dir", str(runs), timeout=120)
    finally:
        stop.touch()
        p.wait(timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"run r1 is still running in process {p.pid}" in lines[0], lines
    assert f"kill {p.pid}" in lines[0] and "--resume r1" in lines[0], lines
