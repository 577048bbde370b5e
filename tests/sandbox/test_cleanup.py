"""Nothing leaks: killed owners are swept, atexit and SIGTERM release what they started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any

import pytest

from controllers.sandbox.gc import stale_reason, sweep
from harness import labels

CHILD = textwrap.dedent(
    """
    import sys, time
    from controllers.sandbox import DockerSandbox, DockerSandboxConfig
    from controllers.sandbox import owner
    if sys.argv[3] == "signals":
        owner.install_signal_handlers()
    box = DockerSandbox(DockerSandboxConfig(image=sys.argv[1], run_id=sys.argv[2])).start()
    print(box.container_id, flush=True)
    if sys.argv[3] == "exit":
        sys.exit(0)          # no close(): atexit must release it
    time.sleep(120)
    """
)


def _spawn(image: str, run_id: str, mode: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, image, run_id, mode],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )
    assert p.stdout is not None
    cid = p.stdout.readline().strip()
    assert cid, "child did not start a sandbox"
    return p, cid


def _left(client: Any, run_id: str) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})


@pytest.mark.docker
def test_sigkilled_owner_is_swept(base_image: str, docker_client: Any) -> None:
    run_id = f"kill-{uuid.uuid4().hex[:6]}"
    p, _ = _spawn(base_image, run_id, "sleep")
    assert len(_left(docker_client, run_id)) == 1
    dry = [r for r in sweep(docker_client, dry_run=True) if r.run_id == run_id]
    assert dry == []  # owner alive: kept
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert len(_left(docker_client, run_id)) == 1  # SIGKILL ran no handler
    reaped = [r for r in sweep(docker_client) if r.run_id == run_id]
    assert len(reaped) == 1 and "gone" in reaped[0].why
    assert _left(docker_client, run_id) == []


@pytest.mark.docker
def test_atexit_releases_unclosed_sandbox(base_image: str, docker_client: Any) -> None:
    run_id = f"exit-{uuid.uuid4().hex[:6]}"
    p, _ = _spawn(base_image, run_id, "exit")
    assert p.wait(timeout=60) == 0
    assert _left(docker_client, run_id) == []


@pytest.mark.docker
def test_sigterm_releases_sandbox(base_image: str, docker_client: Any) -> None:
    run_id = f"term-{uuid.uuid4().hex[:6]}"
    p, _ = _spawn(base_image, run_id, "signals")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    assert _left(docker_client, run_id) == []


def test_stale_reason_rules() -> None:
    host, now = socket.gethostname(), time.time()
    mine = {labels.OWNER_HOST: host, labels.OWNER_PID: str(os.getpid()), labels.CREATED: str(int(now))}
    assert stale_reason(mine, now=now, host=host, max_age_sec=3600) is None
    dead = dict(mine, **{labels.OWNER_PID: "999999999"})
    assert "gone" in (stale_reason(dead, now=now, host=host, max_age_sec=3600) or "")
    reused = dict(mine, **{labels.OWNER_START: "1"})  # same pid, other start time
    assert "gone" in (stale_reason(reused, now=now, host=host, max_age_sec=3600) or "")
    other_host = dict(dead, **{labels.OWNER_HOST: "elsewhere"})
    assert stale_reason(other_host, now=now, host=host, max_age_sec=3600) is None
    old = dict(other_host, **{labels.CREATED: str(int(now - 7200))})
    assert "older" in (stale_reason(old, now=now, host=host, max_age_sec=3600) or "")
