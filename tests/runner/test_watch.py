"""`harness watch` follows a run read-only: it shows each running trial's live screen (read
through the trial's own view command, as the runner stores it) and stops with the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controllers.profiles.base import STATE_DIR
from controllers.sandbox import DockerSandbox, DockerSandboxConfig
from controllers.tmux import SandboxTmuxController
from harness.runner.store import Store
from tests.runner.conftest import REPO

pytestmark = pytest.mark.docker


def _watch(runs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "harness.cli", "watch", *args, "--runs-dir", str(runs)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env, check=False)


def test_watch_shows_the_running_trials_screen(tmp_path: Path, base_image: str, docker_client: Any) -> None:
    runs = tmp_path / "runs"
    store = Store(runs / "harness.db")
    store.create_run("r1", suite="s", agent="claude", model_mode="scripted", config={})
    box = DockerSandbox(DockerSandboxConfig(image=base_image, run_id="test-watch"), client=docker_client).start()
    try:
        box.exec(["mkdir", "-p", STATE_DIR])
        ctl = SandboxTmuxController(box, socket_path=f"{STATE_DIR}/w.sock")
        ctl.start(["sh", "-c", "echo watch-me-123; sleep 600"], width=80, height=10)
        ctl.wait_for_text("watch-me-123", timeout_sec=10)
        store.event("r1", "attach", ctl.attach_command(), "t/baseline/0")
        store.event("r1", "view", ctl.view_command(), "t/baseline/0")
        store.event("r1", "start", "t/baseline/0 started", "t/baseline/0")
        r = _watch(runs, "r1", "--once")
        assert r.returncode == 0, r.stderr
        assert "watch-me-123" in r.stdout and "t/baseline/0" in r.stdout and "1 running" in r.stdout
        ctl.close()
        r = _watch(runs, "r1", "--once")  # its pane is gone: said so, not an error
        assert r.returncode == 0 and "finished or unreachable" in r.stdout, r.stdout + r.stderr
    finally:
        box.close()
    store.set_run_status("r1", "complete")
    r = _watch(runs, "r1", "--interval", "0.2")  # a finished run: shows it once and returns
    assert r.returncode == 0 and "run r1: complete" in r.stdout, r.stdout + r.stderr
    r = _watch(runs, "nope", "--once")
    assert r.returncode != 0 and "no run nope" in (r.stdout + r.stderr)
    store.close()
