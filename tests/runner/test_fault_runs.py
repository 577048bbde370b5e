"""Whole runs through the `harness` CLI: an upstream that refuses the key stops the run at its
first trial with one line about the key (instead of failing every trial), and
`harness run --resume` runs an ``infra_error`` trial again under the same key.

The upstream here is a local stand-in for the vendor's API (the one thing that cannot run
here) answering every request 401, as the real one does for a bad key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.runner.store import Store
from tests.runner.conftest import DEMO, REPO

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]
TASKS = ["--task", "fix-median", "--task", "fix-clamp"]  # x 2 variants = 4 trials


class _Refuses(BaseHTTPRequestHandler):
    seen = 0

    def log_message(self, *a: Any) -> None:
        pass

    def do_POST(self) -> None:
        type(self).seen += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"type": "error", "error": {"type": "authentication_error",
                                                      "message": "invalid x-api-key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def refusing_upstream() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _cli(upstream: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANTHROPIC_API_KEY="sk-ant-not-a-real-key",
               HARNESS_UPSTREAM_ANTHROPIC_URL=upstream)
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=900, cwd=REPO, env=env, check=False)


def test_a_refused_key_stops_the_run_at_the_first_trial(tmp_path: Path, refusing_upstream: str,
                                                        docker_client: Any) -> None:
    runs = tmp_path / "runs"
    r = _cli(refusing_upstream, "run", str(DEMO), "--agent", "claude", "--model", "live", "-j", "1",
             "--timeout", "600", "--runs-dir", str(runs), *TASKS)
    assert r.returncode == 2, (r.returncode, r.stdout[-1500:], r.stderr[-1500:])
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr[-2000:]
    line = errors[0]
    assert "refused the key" in line and "401" in line and "ANTHROPIC_API_KEY" in line, line
    assert "sk-ant-not-a-real-key" not in r.stdout + r.stderr
    with Store(runs / "harness.db") as st:
        run_id = st.latest_run_id()
        assert run_id is not None
        trials = st.trials(run_id)
        assert [t["status"] for t in trials] == ["infra_error"], trials  # one trial, not four
        assert st.run(run_id)["status"] == "stopped"
        first = trials[0]
    res = json.loads((runs / run_id / first["artifacts"] / "result.json").read_text())
    assert res["extra"]["turns"][-1]["how"] == "aborted"  # given up at the 401, not at the timeout
    assert f"--resume {run_id}" in line

    # --resume runs that infra_error trial again (here it is refused again: the same key)
    before = json.loads((runs / run_id / first["artifacts"] / "result.json").read_text())
    r2 = _cli(refusing_upstream, "run", "--resume", run_id, "-j", "1", "--runs-dir", str(runs))
    assert r2.returncode == 2, r2.stderr[-1500:]
    with Store(runs / "harness.db") as st:
        again = st.trials(run_id)
        starts = [e for e in st.events(run_id, limit=10000) if e["kind"] == "stopped"]
    assert len(again) == 1 and again[0]["task_id"] == first["task_id"], again  # same key, replaced
    after = json.loads((runs / run_id / first["artifacts"] / "result.json").read_text())
    assert after["extra"]["finished_at"] > before["extra"]["finished_at"]
    assert len(starts) == 2
