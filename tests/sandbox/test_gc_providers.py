"""`harness gc` through the provider seam: what a SIGKILLed run left is swept by each
provider's own sweep (Docker: container, network, volume, host temp dir; local: its
directory and the agent's tmux server), and what the harness did not make, or what a live
owner still holds, is left alone.

Why a real kill: a SIGKILL runs no ``finally``, no atexit and no signal handler, so only the
sweeper can clean up; the child makes everything through the harness's own code paths.

Why a private host name and temp dir: every run's start sweeps what dead owners left, so a run
in another test beside this one could remove the child's leftovers before this test's own
``harness gc`` does (CI saw "removed 0 leftover(s)"). The child and the test's gc run in their
own UTS namespace, under a host name no other process has, with their own TMPDIR: a sweep on
the real host sees a foreign host's containers (kept until they are a day old) and never looks
in that temp dir, while the test's gc sees exactly what a sweep on the child's host would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controllers.sandbox import owner
from harness import labels

#: makes one of everything, prints what it made, then waits to be killed
CHILD = textwrap.dedent(
    """
    import json, sys, tempfile, time
    from controllers.profiles.base import STATE_DIR
    from controllers.sandbox import DockerSandbox, DockerSandboxConfig, SandboxLimits, owner
    from harness import engine
    from harness.providers.base import SandboxRequest
    from harness.providers.local import LocalProvider
    from harness.tasks import load_suite

    image, run_id, demo = sys.argv[1:4]
    c = engine.client()
    box = DockerSandbox(DockerSandboxConfig(image=image, run_id=run_id), client=c).start()
    net = c.networks.create(f"{run_id}-net", internal=True,
                            labels=owner.owner_labels(run_id, kind="network"))
    vol = c.volumes.create(f"{run_id}-vol", labels=owner.owner_labels(run_id, kind="volume"))
    tmp = tempfile.mkdtemp(prefix=owner.temp_prefix("copyout"))
    local = LocalProvider()
    task = load_suite(demo).tasks[0]
    sb = local.create(SandboxRequest(task, image="", workdir="", run_id=run_id,
                                     limits=SandboxLimits()))
    ctl = local.controller(sb)
    sb.begin({f"{STATE_DIR}/.made": ("", 0o644, "agent")}, then=ctl.start_argv(["sleep", "600"]))
    print(json.dumps({"container": box.name, "network": net.name, "volume": vol.name,
                      "tmp": tmp, "local": sb.base, "socket": ctl.socket_path}), flush=True)
    time.sleep(600)
    """
)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tasks" / "examples"


@dataclass(frozen=True)
class PrivateHost:
    """A host name and temp dir no other process shares (see the module's docstring)."""

    name: str
    tmp: Path

    def argv(self, *cmd: str) -> list[str]:
        # root (as in CI) may make a UTS namespace; a developer without it shares the host
        # name and keeps the (rare) race with a run started beside this test
        if os.geteuid() != 0:
            return list(cmd)
        return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.name, *cmd]

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self.tmp)}


@pytest.fixture
def host() -> Iterator[PrivateHost]:
    # short, under /tmp: a local trial's tmux socket lives in its directory (107-byte limit)
    tmp = Path(tempfile.mkdtemp(prefix="gct-", dir="/tmp"))
    name = f"gc-test-{uuid.uuid4().hex[:8]}" if os.geteuid() == 0 else socket.gethostname()
    try:
        yield PrivateHost(name, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _gc(host: PrivateHost, *args: str) -> str:
    proc = subprocess.run(host.argv(sys.executable, "-m", "harness.cli", "gc", *args), cwd=REPO,
                          env=host.env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _server_alive(socket_path: str) -> bool:
    r = subprocess.run(["tmux", "-S", socket_path, "list-sessions"], capture_output=True,
                       timeout=10, check=False)
    return r.returncode == 0


def _engine_has(docker_client: Any, kind: str, name: str) -> bool:
    listing = {"container": docker_client.containers, "network": docker_client.networks,
               "volume": docker_client.volumes}[kind]
    return bool([o for o in listing.list(**({"all": True} if kind == "container" else {}))
                 if (o.name if kind != "volume" else o.attrs["Name"]) == name])


@pytest.fixture
def foreign(docker_client: Any, host: PrivateHost) -> Iterator[dict[str, str]]:
    """Things the sweep must leave alone: a network and a volume without the harness's labels
    (named like the harness's), a temp dir named like the harness's but not by it, and a
    labelled network and a local directory whose owner (this process) is alive."""
    tag = uuid.uuid4().hex[:6]
    live = {**owner.owner_labels(f"gcf-{tag}", kind="network"), labels.OWNER_HOST: host.name}
    made: list[Any] = [
        docker_client.networks.create(f"gcf-{tag}-net", internal=True,
                                      labels={"purpose": "not the harness's"}),
        docker_client.volumes.create(f"gcf-{tag}-vol"),
        docker_client.networks.create(f"gcf-{tag}-live", internal=True,
                                      labels=live),
    ]
    dirs = [tempfile.mkdtemp(prefix="harness-copyout-", dir=host.tmp),
            tempfile.mkdtemp(prefix=f"harness-local@{2**22 + 7}.x-", dir=host.tmp),  # bad form
            tempfile.mkdtemp(prefix=owner.temp_prefix("local"), dir=host.tmp)]
    try:
        yield {"network": made[0].name, "volume": made[1].name, "live_network": made[2].name,
               "dirs": "\n".join(dirs)}
    finally:
        for obj in made:
            with contextlib.suppress(Exception):
                obj.remove()
        for d in dirs:
            subprocess.run(["rm", "-rf", d], timeout=30, check=False)


@pytest.mark.docker
@pytest.mark.tmux
def test_gc_sweeps_a_killed_run_per_provider(base_image: str, docker_client: Any,
                                             foreign: dict[str, str], host: PrivateHost) -> None:
    import json

    run_id = f"gck-{uuid.uuid4().hex[:6]}"
    made: dict[str, str] = {}
    child = subprocess.Popen(host.argv(sys.executable, "-c", CHILD, base_image, run_id,
                                       str(DEMO)),
                             stdout=subprocess.PIPE, text=True, cwd=REPO, env=host.env())
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "the child made nothing"
        made = json.loads(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    try:
        # SIGKILL ran no cleanup: everything is still there
        assert _engine_has(docker_client, "container", made["container"])
        assert _engine_has(docker_client, "network", made["network"])
        assert _engine_has(docker_client, "volume", made["volume"])
        assert Path(made["tmp"]).is_dir() and Path(made["local"]).is_dir()
        assert _server_alive(made["socket"]), "the agent's tmux server outlives its owner"

        if host.name != socket.gethostname():  # the real host's sweep keeps a foreign host's
            real = subprocess.run([sys.executable, "-m", "harness.cli", "gc", "--dry-run"],
                                  cwd=REPO, capture_output=True, text=True, timeout=300,
                                  check=False)
            assert made["container"] not in real.stdout, real.stdout
            # ... and says so, with where they can be swept
            assert (f"docker: kept 1 container(s) owned by runs on host {host.name}: "
                    f"its owner cannot be checked from here; `harness gc` on {host.name}"
                    in real.stdout), real.stdout
        dry = _gc(host, "--dry-run")
        assert f"local: would remove temp dir {made['local']}" in dry, dry
        assert f"docker: would remove container {made['container']}" in dry, dry
        assert Path(made["local"]).is_dir() and _server_alive(made["socket"])  # nothing removed

        out = _gc(host, "--provider", "local")  # one provider: the other's leftovers stay
        assert f"local: removed temp dir {made['local']}" in out and "docker:" not in out, out
        assert not Path(made["local"]).exists()
        assert not _server_alive(made["socket"]), "the killed run's tmux server was ended"
        assert _engine_has(docker_client, "container", made["container"])
        assert Path(made["tmp"]).is_dir()

        out = _gc(host, "--provider", "docker")
        for kind in ("container", "network", "volume"):
            assert f"docker: removed {kind} {made[kind]} " in out, out
            assert not _engine_has(docker_client, kind, made[kind]), kind
        assert f"docker: removed temp dir {made['tmp']}" in out, out
        assert not Path(made["tmp"]).exists()

        # what the harness did not make, and what a live owner holds, is all still there
        for kind in ("network", "volume"):
            assert _engine_has(docker_client, kind, foreign[kind]), kind
        assert _engine_has(docker_client, "network", foreign["live_network"])
        for d in foreign["dirs"].splitlines():
            assert Path(d).is_dir(), d
        assert all(d not in out for d in foreign["dirs"].splitlines())
    finally:  # if an assertion failed midway, do not leave the child's things behind
        with contextlib.suppress(Exception):
            _gc(host)
        if made:
            subprocess.run(["tmux", "-S", made["socket"], "kill-server"], capture_output=True,
                           timeout=10, check=False)


def test_temp_prefix_names_this_process() -> None:
    m = owner.TEMP_NAME.match(owner.temp_prefix("clone") + "abc")
    assert m is not None and m["kind"] == "clone" and int(m["pid"]) == os.getpid()
    assert m["start"] == owner.process_start_time(os.getpid())
    assert labels.MANAGED in owner.owner_labels("r")
