"""An engine that goes away mid-trial and comes back (a dockerd restart, as this run's
runner sees it): the trial is ``infra_error`` and retried with a backoff long enough to
ride it out, it then ends scored, and the container of the failed try -- whose removal the
absent engine refused while its owner lived on -- is gone by the end of the run.

The engine is made unreachable for this runner alone: its ``DOCKER_HOST`` is a unix socket
this test forwards to the real engine, then closes (cutting every open connection, as a
restart does), then opens again. Other users of the engine never notice.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness import engine, labels
from harness.runner.store import Store
from tests.conftest import need
from tests.runner.conftest import DEMO, REPO, summary

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]
OUTAGE_SEC = 7.0  # a dockerd restart took 6 s


class EngineProxy:
    """A unix socket that forwards bytes both ways to the engine's socket until ``stop``."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lst.bind(str(self.path))
        lst.listen(64)
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        lst, self._listener = self._listener, None
        if lst is not None:
            lst.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def saw(self, data: bytes) -> None:
        """Each chunk forwarded, either way (a subclass may record them)."""

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.saw(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def _wait_for_attach(db: Path, p: subprocess.Popen[str], timeout_sec: float = 600) -> str:
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        assert p.poll() is None, "the run ended before the engine could go away"
        if db.exists():
            with Store(db) as s:
                run_id = s.latest_run_id()
                if run_id and any(e["kind"] == "attach" for e in s.events(run_id)):
                    return run_id
        time.sleep(0.2)
    raise AssertionError("no trial started in time")


def test_engine_outage_mid_trial_is_retried_and_its_container_removed(tmp_path: Path,
                                                                      docker_client: Any) -> None:
    url, _ = engine.docker_endpoint()
    need(url.startswith("unix://"), f"the engine is not on a local unix socket ({url})")
    proxy = EngineProxy(tmp_path / "engine.sock", url.removeprefix("unix://"))
    proxy.start()
    runs = tmp_path / "runs"
    env = dict(os.environ, DOCKER_HOST=f"unix://{proxy.path}")
    env.pop("HARNESS_RUNS_DIR", None)
    p = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(DEMO), "--agent", "claude", "-j", "1",
         "--task", "fix-median", "--runs-dir", str(runs), "--json"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        run_id = _wait_for_attach(runs / "harness.db", p)
        time.sleep(1.0)  # the agent is at work
        proxy.stop()
        time.sleep(OUTAGE_SEC)
        proxy.start()
        out, _ = p.communicate(timeout=900)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait(timeout=30)
        proxy.stop()
    r = subprocess.CompletedProcess(p.args, p.returncode, out, "")
    s = summary(r)
    assert {t["status"] for t in s["trials"]} <= {"passed", "failed"}, s["trials"]  # scored in the end
    with Store(runs / "harness.db") as st:
        infra = [e for e in st.events(run_id, limit=10000) if e["kind"] == "infra_error"]
    assert infra, "the outage did not fail a try (it came too late?)"
    # the failed try's container: its removal was refused while the engine was away, and
    # the owner (this run) lived on, so no sweeper would take it; the run removed it itself
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})
    assert left == [], [c.name for c in left]
