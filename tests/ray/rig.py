"""A real multi-node Ray cluster on one machine, for the Ray executor's tests and bench.

Why this shape (issue 16 item 7): the executor must be tested against "a real second host with
its own address and engine", not a second raylet on the same host. So the rig makes a Docker
network of its own, starts the Ray head on the host bound to that network's gateway address,
and starts N worker containers from ``harness/ray-node`` on the network: each has its own IP,
its own dockerd (reachable as ``tcp://<ip>:2375`` from the host, over that network only) and
joins the head advertising ``harness_docker: 1``. The head advertises it too: the host's
engine is the head node's Docker host.

Owners and clean-up: the rig owns the network, the containers (harness labels, kind ``dind``,
so ``harness gc`` sweeps them after a crash), the head's process group and its temp dir
(``/tmp/hrr-<pid>-...``; a short name, since Ray's socket paths under it must stay below
the unix-socket limit). ``close()`` releases them all, each step on its own, and never runs
``ray stop``: that command kills every Ray process on the machine, other users' included.
Heads left by a SIGKILLed owner are found by their temp dir's owner file and killed at the
next rig start.

Why failure detection is tuned (``RAY_health_check_*`` on the head): a killed worker must be
reported dead within a bounded, short time, or the kill tests would wait for Ray's defaults.

Why the harness code is not in the image: the executor ships ``harness``/``controllers``/
``gate`` with Ray's ``runtime_env`` ``py_modules``; the image holds only Python 3.11, Ray and
the runtime dependencies (see images/ray-node/Dockerfile).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from controllers.sandbox import owner

DOCKER_TIMEOUT_SEC = 120
LOAD_TIMEOUT_SEC = 900
HEAD_START_TIMEOUT_SEC = 240
NODE_WAIT_SEC = 180
DOCKERD_WAIT_SEC = 90
STOP_WAIT_SEC = 30
JOIN_TRIES = 3
DOCKER_PORT = 2375
RESOURCE = "harness_docker"
#: the run flags of harness/dind that work where --privileged fails (images/dind/Dockerfile),
#: with the worker's engine state on an anonymous volume rather than a tmpfs: a worker killed
#: and started again keeps its images and what its killed run left (a real host's disk does),
#: so the sweep of those leftovers is something a test can see happen; ``docker rm -v``
#: removes the volume with the worker
DIND_RUN_FLAGS = [
    "--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", "/var/lib/docker",
]
#: Ray's node health check, tightened so a dead worker is declared dead within seconds
FAST_FAILURE_ENV = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
#: each node's object store (Ray's default takes 30% of RAM; the rig passes small records
#: and shares the machine): the workers' /dev/shm (--shm-size) is sized to hold it
OBJECT_STORE_BYTES = 512 * 1024 * 1024
SHM_SIZE = "1g"
TEMP_ROOT = Path("/tmp")
TEMP_PREFIX = "hrr-"

Say = Callable[[str], None]

#: run by ``RayRig.alive_nodes`` in a child interpreter: prints {node id: ip} of alive nodes
_ALIVE_NODES = """
import json, sys
from ray._raylet import GcsClient
from ray.core.generated.gcs_pb2 import GcsNodeInfo
infos = GcsClient(address=sys.argv[1]).get_all_node_info(
    timeout=20, state_filter=GcsNodeInfo.GcsNodeState.ALIVE)
print(json.dumps({i.node_id.hex(): i.node_manager_address for i in infos.values()}))
"""


class RigError(RuntimeError):
    """The rig could not be set up (the message says which step, with the tail of its log)."""


class WorkerExited(RigError):
    """A worker's container stopped before its node joined the head."""


def _run(args: Sequence[str], *, timeout: float = DOCKER_TIMEOUT_SEC,
         env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env,
                       check=False)
    if check and r.returncode != 0:
        raise RigError(f"{' '.join(args[:3])} ... failed (exit {r.returncode}): "
                       f"{(r.stderr or r.stdout).strip()[-800:]}")
    return r


def docker_env(docker_host: str | None = None) -> dict[str, str]:
    """The environment for a ``docker`` CLI call: the host engine, or ``docker_host``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    return env


def free_port(ip: str) -> int:
    """A port free on ``ip`` now (the head binds it right after; a race loses one start)."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def ray_bin() -> str:
    """The ``ray`` CLI of the interpreter running the tests (the driver's own Ray)."""
    cand = Path(sys.executable).with_name("ray")
    return str(cand) if cand.exists() else (shutil.which("ray") or "ray")


@dataclass
class RayWorker:
    """One worker node: a container with its own IP, dockerd and raylet."""

    name: str
    container_id: str
    ip: str
    node_id: str = ""

    @property
    def docker_host(self) -> str:
        """DOCKER_HOST of this node's own engine (reached over the rig's network)."""
        return f"tcp://{self.ip}:{DOCKER_PORT}"


@dataclass
class Timings:
    """What the rig cost, in seconds (printed by the fixture, read by bench)."""

    image_build: float = 0.0
    head_start: float = 0.0
    worker_start: list[float] = field(default_factory=list)
    image_save: float = 0.0
    image_load: list[float] = field(default_factory=list)
    nodes_alive: float = 0.0

    def line(self) -> str:
        f = ", ".join
        return (f"ray rig: image build {self.image_build:.1f}s, head {self.head_start:.1f}s, "
                f"worker start [{f(f'{t:.1f}s' for t in self.worker_start)}], "
                f"image save {self.image_save:.1f}s, "
                f"image load [{f(f'{t:.1f}s' for t in self.image_load)}], "
                f"all nodes alive {self.nodes_alive:.1f}s")


class ImageCache:
    """``docker save`` of the host's images, made once (per test session) and loaded into
    every worker's engine, so N workers and every revive cost one save."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._tars: dict[tuple[str, ...], Path] = {}

    def tar_for(self, tags: Sequence[str]) -> tuple[Path, float]:
        """The archive holding ``tags`` and how long making it took (0 when cached)."""
        key = tuple(sorted(set(tags)))
        if key in self._tars:
            return self._tars[key], 0.0
        started = time.monotonic()
        path = self.directory / f"images-{uuid.uuid4().hex[:8]}.tar"
        _run(["docker", "save", "-o", str(path), *key], timeout=LOAD_TIMEOUT_SEC,
             env=docker_env())
        self._tars[key] = path
        return path, time.monotonic() - started


class RayRig:
    """A Ray head on the host plus worker containers on a network of the rig's own.

    ``start()`` brings it up (or raises RigError after releasing what it made); ``close()``
    releases everything and is safe to call twice. Use ``with RayRig(...) as rig``.
    """

    def __init__(self, *, workers: int = 1, image: str, load_tags: Sequence[str] = (),
                 cache: ImageCache, run_id: str | None = None, say: Say = print,
                 worker_cpus: int | None = None) -> None:
        self.n_workers = workers
        self.image = image
        self.load_tags = list(load_tags)
        self.cache = cache
        self.run_id = run_id or f"rayrig-{uuid.uuid4().hex[:8]}"
        self.say = say
        self.worker_cpus = worker_cpus
        self.network = f"harness-rayrig-{uuid.uuid4().hex[:8]}"
        self.gateway_ip = ""
        self.port = 0
        self.head_node_id = ""
        self.workers: list[RayWorker] = []
        self.timings = Timings()
        self.temp_dir: Path | None = None
        self._head: subprocess.Popen[bytes] | None = None
        self._head_log: Path | None = None
        self._network_made = False

    # ------------------------------------------------------------------ public

    @property
    def address(self) -> str:
        """The GCS address a driver or node joins: ``<gateway ip>:<port>``."""
        return f"{self.gateway_ip}:{self.port}"

    @property
    def head_ip(self) -> str:
        return self.gateway_ip

    def node_ids(self) -> dict[str, str]:
        """node id -> IP, head first."""
        return {self.head_node_id: self.head_ip, **{w.node_id: w.ip for w in self.workers}}

    def _isolation_env(self) -> dict[str, str]:
        """HOME set to the rig's temp dir: another user's ``~/.ray/auth_token`` (token auth)
        must not leak into this cluster, whose nodes have no token."""
        return {"HOME": str(self.temp_dir), "RAY_AUTH_MODE": "disabled"} if self.temp_dir else {}

    def driver_env(self) -> dict[str, str]:
        """Environment for a driver process (``harness run --executor ray``, bench) on the host:
        the cluster address, and the minor-level version check the nodes use too."""
        return {"RAY_ADDRESS": self.address, "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL": "minor"}

    def init_kwargs(self) -> dict[str, Any]:
        """``ray.init(**rig.init_kwargs())`` connects this process as a driver on the head."""
        return {"address": self.address, "_node_ip_address": self.head_ip}

    def start(self) -> RayRig:
        try:
            sweep_orphan_heads(self.say)
            self._make_network()
            self._start_head()
            started = time.monotonic()
            for i in range(self.n_workers):  # one at a time: joins race on a small machine
                w = self._start_worker(i)
                self.workers.append(w)
                w.node_id = self._join(w)
            self.timings.nodes_alive = time.monotonic() - started
            for w in self.workers:  # after the joins, so the loads do not slow them
                self._load_images(w)
        except BaseException:
            self.close()
            raise
        self.say(self.timings.line())
        return self

    def kill_worker(self, index: int = 0, how: str = "container") -> None:
        """Kill worker ``index``: ``container`` (SIGKILL the whole container: a host that
        vanishes) or ``raylet`` (SIGKILL its raylet; its ``ray start --block`` then ends
        the other Ray processes, and the container exits)."""
        w = self.workers[index]
        if how == "container":
            _run(["docker", "kill", w.container_id], env=docker_env())
        elif how == "raylet":
            _run(["docker", "exec", w.container_id, "sh", "-c",
                  "kill -9 $(pgrep -x raylet)"], env=docker_env())
        else:
            raise ValueError(f"how must be 'container' or 'raylet', not {how!r}")

    def revive_worker(self, index: int = 0) -> RayWorker:
        """Bring worker ``index`` back: restart its container (same IP, its engine's state
        kept on its volume: images, and the containers the kill left) and wait until it
        rejoins under a new node id (Ray never reuses one)."""
        w = self.workers[index]
        with contextlib.suppress(RigError):  # a raylet kill may still be ending the container
            _run(["docker", "wait", w.container_id], timeout=STOP_WAIT_SEC, env=docker_env())
        old = w.node_id
        _run(["docker", "start", w.container_id], env=docker_env())
        w.ip = self._container_ip(w.container_id)
        self._wait_dockerd(w)
        w.node_id = self._join(w, exclude={old})
        self._load_images(w)
        return w

    def _join(self, w: RayWorker, exclude: Iterable[str] = ()) -> str:
        """Wait for ``w`` to join; restart its container when its ``ray start`` gave up.
        Why: Ray's node start waits a fixed 30 s for its raylet to register, which a busy
        two-core machine can miss; the entrypoint then exits, and a restart is a fresh try."""
        for attempt in range(JOIN_TRIES):
            try:
                return self.wait_node(w.ip, exclude=exclude, worker=w)
            except WorkerExited:
                if attempt == JOIN_TRIES - 1:
                    raise
                self.say(f"ray rig: {w.name} did not join (its ray start exited); restarting")
                _run(["docker", "start", w.container_id], env=docker_env())
                w.ip = self._container_ip(w.container_id)
                self._wait_dockerd(w)
        raise AssertionError("unreachable")

    def alive_nodes(self) -> dict[str, str]:
        """node id -> IP of the nodes the head sees alive now (from GCS).

        Why a child process: a GCS client made in a process that has been a driver of
        another cluster (ray.init ... ray.shutdown) keeps that cluster's id and is refused
        by this one's GCS; a fresh interpreter asks with no such state."""
        r = _run([sys.executable, "-c", _ALIVE_NODES, self.address], timeout=60,
                 env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **self._isolation_env()})
        return dict(json.loads(r.stdout.strip().splitlines()[-1]))

    def wait_node(self, ip: str, *, exclude: Iterable[str] = (),
                  timeout: float = NODE_WAIT_SEC, worker: RayWorker | None = None) -> str:
        """The id of the alive node at ``ip`` (not one of ``exclude``), waiting up to
        ``timeout`` seconds for it to join. With ``worker``, raises WorkerExited as soon as
        its container has stopped (nothing will join then)."""
        skip = set(exclude)
        deadline = time.monotonic() + timeout
        last: dict[str, str] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # GCS busy or restarting: ask again
                last = self.alive_nodes()
                for node_id, node_ip in last.items():
                    if node_ip == ip and node_id not in skip:
                        return node_id
            if worker is not None and not self._running(worker):
                raise WorkerExited(f"{worker.name} exited before joining")
            time.sleep(1.0)
        tail = ""
        for w in self.workers:
            if w.ip == ip:
                tail = _run(["docker", "logs", "--tail", "15", w.container_id],
                            env=docker_env(), check=False).stderr[-800:]
        raise RigError(f"no Ray node at {ip} joined {self.address} within {timeout:.0f}s "
                       f"(alive: {sorted(last.values())}); worker log: {tail}")

    def wait_node_dead(self, node_id: str, timeout: float = NODE_WAIT_SEC) -> float:
        """Seconds until the head no longer lists ``node_id`` alive."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with contextlib.suppress(Exception):
                if node_id not in self.alive_nodes():
                    return time.monotonic() - started
            time.sleep(0.5)
        raise RigError(f"node {node_id[:12]} still alive {timeout:.0f}s after it was killed")

    def close(self) -> None:
        """Release the workers, the head (its process group, leftovers by temp dir, the dir)
        and the network. Each step swallows its own errors so every one runs."""
        for w in self.workers:
            with contextlib.suppress(Exception):
                _run(["docker", "rm", "-f", "-v", w.container_id], env=docker_env(),
                     check=False)
        self.workers = []
        if self._head is not None:
            with contextlib.suppress(Exception):
                _stop_group(self._head)
            self._head = None
        if self.temp_dir is not None:
            with contextlib.suppress(Exception):
                _kill_by_marker(str(self.temp_dir))
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None
        if self._network_made:
            with contextlib.suppress(Exception):
                _run(["docker", "network", "rm", self.network], env=docker_env(), check=False)
            self._network_made = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ steps

    def _labels(self) -> list[str]:
        out: list[str] = []
        for k, v in owner.owner_labels(self.run_id, kind="dind").items():
            out += ["--label", f"{k}={v}"]
        return out

    def _make_network(self) -> None:
        _run(["docker", "network", "create", "--driver", "bridge", *self._labels(),
              self.network], env=docker_env())
        self._network_made = True
        r = _run(["docker", "network", "inspect", self.network, "--format",
                  "{{json .IPAM.Config}}"], env=docker_env())
        configs = json.loads(r.stdout or "[]") or []
        gws = [c.get("Gateway") for c in configs if c.get("Gateway") and ":" not in c["Gateway"]]
        if not gws:
            raise RigError(f"network {self.network} has no IPv4 gateway: {r.stdout.strip()}")
        self.gateway_ip = gws[0]

    def _start_head(self) -> None:
        started = time.monotonic()
        self.temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-",
                                              dir=TEMP_ROOT))
        (self.temp_dir / "owner").write_text(
            f"{os.getpid()} {owner.process_start_time(os.getpid()) or ''}\n")
        self.port = free_port(self.gateway_ip)
        args = [ray_bin(), "start", "--head", f"--node-ip-address={self.gateway_ip}",
                f"--port={self.port}", f"--temp-dir={self.temp_dir}",
                f"--dashboard-agent-listen-port={free_port(self.gateway_ip)}",
                f"--resources={json.dumps({RESOURCE: 1})}", "--disable-usage-stats",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
                "--include-dashboard=false", "--block"]
        env = {**os.environ, **FAST_FAILURE_ENV, "RAY_USAGE_STATS_ENABLED": "0",
               "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL": "minor", **self._isolation_env()}
        env.pop("RAY_ADDRESS", None)
        self._head_log = self.temp_dir / "head.log"
        with self._head_log.open("wb") as log:
            self._head = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + HEAD_START_TIMEOUT_SEC
        while time.monotonic() < deadline:
            if self._head.poll() is not None:
                raise RigError(f"ray head exited ({self._head.returncode}): {self._head_tail()}")
            if not (self.temp_dir / "ray_current_cluster").exists():  # written once up
                time.sleep(0.5)
                continue
            with contextlib.suppress(Exception):
                for node_id, ip in self.alive_nodes().items():
                    if ip == self.gateway_ip:
                        self.head_node_id = node_id
                        self.timings.head_start = time.monotonic() - started
                        self.say(f"ray rig: head {node_id[:12]} at {self.address}")
                        return
            time.sleep(0.5)
        raise RigError(f"ray head not up within {HEAD_START_TIMEOUT_SEC}s: {self._head_tail()}")

    def _head_tail(self) -> str:
        if self._head_log is None or not self._head_log.exists():
            return ""
        return self._head_log.read_text(errors="replace")[-800:].replace("\n", " | ")

    def _start_worker(self, i: int) -> RayWorker:
        started = time.monotonic()
        name = f"{self.network}-w{i}"
        env_args = ["-e", f"RAY_ADDRESS={self.address}",
                    "-e", f"RAY_OBJECT_STORE_BYTES={OBJECT_STORE_BYTES}"]
        if self.worker_cpus is not None:
            env_args += ["-e", f"RAY_NODE_ARGS=--num-cpus={self.worker_cpus}"]
        r = _run(["docker", "run", "-d", "--init", "--name", name, "--hostname", name,
                  "--network", self.network, "--shm-size", SHM_SIZE, *DIND_RUN_FLAGS,
                  *self._labels(), *env_args, self.image], env=docker_env())
        cid = r.stdout.strip()
        w = RayWorker(name, cid, "")
        w.ip = self._container_ip(cid)
        self._wait_dockerd(w)
        self.timings.worker_start.append(time.monotonic() - started)
        self.say(f"ray rig: worker {name} at {w.ip} (engine {w.docker_host})")
        return w

    def _running(self, w: RayWorker) -> bool:
        r = _run(["docker", "inspect", "--format", "{{.State.Running}}", w.container_id],
                 env=docker_env(), check=False)
        return r.stdout.strip() != "false"

    def _container_ip(self, cid: str) -> str:
        fmt = f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}'
        ip = _run(["docker", "inspect", "--format", fmt, cid], env=docker_env()).stdout.strip()
        if not ip:
            raise RigError(f"worker {cid[:12]} has no address on {self.network}")
        return ip

    def _wait_dockerd(self, w: RayWorker) -> None:
        deadline = time.monotonic() + DOCKERD_WAIT_SEC
        while time.monotonic() < deadline:
            r = _run(["docker", "version", "--format", "{{.Server.Version}}"],
                     env=docker_env(w.docker_host), timeout=20, check=False)
            if r.returncode == 0:
                return
            state = _run(["docker", "inspect", "--format", "{{.State.Running}}",
                          w.container_id], env=docker_env(), check=False).stdout.strip()
            if state == "false":
                break
            time.sleep(0.5)
        logs = _run(["docker", "logs", "--tail", "20", w.container_id], env=docker_env(),
                    check=False)
        raise RigError(f"dockerd in {w.name} did not answer at {w.docker_host}: "
                       f"{(logs.stdout + logs.stderr)[-800:]}")

    def _load_images(self, w: RayWorker) -> None:
        if not self.load_tags:
            return
        have = _run(["docker", "image", "inspect", "--format", "{{.Id}}", *self.load_tags],
                    env=docker_env(w.docker_host), check=False)
        if have.returncode == 0:  # a revived worker kept them on its volume
            return
        tar, took = self.cache.tar_for(self.load_tags)
        self.timings.image_save += took
        started = time.monotonic()
        _run(["docker", "load", "-q", "-i", str(tar)], timeout=LOAD_TIMEOUT_SEC,
             env=docker_env(w.docker_host))
        self.timings.image_load.append(time.monotonic() - started)


# ---------------------------------------------------------------- process clean-up


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the head's process group (``ray start --block`` then ends its children),
    wait, then SIGKILL what is left of the group."""
    pgid = proc.pid  # started with start_new_session: its own group, led by itself
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_WAIT_SEC)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the head's temp dir: only the Ray
    processes of that one head do)."""
    pids = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            pids.append(int(entry.name))
    return pids


def _kill_by_marker(marker: str) -> None:
    for pid in _pids_mentioning(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def sweep_orphan_heads(say: Say = print) -> list[Path]:
    """Kill the Ray processes of rig heads whose owner process is gone (SIGKILLed test
    runs), by their temp dir, and remove those dirs. Heads of live owners are left alone."""
    swept = []
    for d in TEMP_ROOT.glob(f"{TEMP_PREFIX}*"):
        try:
            pid_s, _, start = (d / "owner").read_text().strip().partition(" ")
        except OSError:
            continue
        if not pid_s.isdigit() or owner.owner_alive(int(pid_s), start or None):
            continue
        _kill_by_marker(str(d))
        shutil.rmtree(d, ignore_errors=True)
        swept.append(d)
        say(f"ray rig: swept the head left by dead owner {pid_s} ({d})")
    return swept
