"""The node agent: one long-lived Ray actor per Docker host, pinned to its node.

Why one actor per host and not a Ray task per trial: a host's engine client, its warm
containers (a task's container serves its next attempts after a reset, not a new start),
the tmux control channels and the run's Gateway live as long as the run, in one process
that owns them and releases them in ``close``. Each trial is one threaded ``run`` call on
a node-side :class:`~harness.runner.run.Runner` (the same ``_one`` a local worker calls), so
a trial on a node is the same code as a trial here; the driver does the infra retries, so
a trial can move to another node.

A trial's files are written under a node-local temp root and read back by the driver in
chunks (``read``), then dropped; events (attach, infra errors, image builds) wait in a
queue the driver drains (``events``). Nothing here reaches the driver's disk or store.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

from controllers.sandbox import owner
from harness.executors.ray_exec.secret import Unwrapper

#: a read of a trial's file returns at most this much (the driver asks again from the offset)
CHUNK = 1 << 20


class _Sink:
    """What the node-side Runner calls ``store``: events go to the driver's queue, never a
    database here (the driver's store is the only one)."""

    def __init__(self, agent: NodeAgent) -> None:
        self.agent = agent

    def event(self, run_id: str, kind: str, message: str, trial: str | None = None) -> None:
        del run_id
        if kind in ("attach", "view"):  # `harness attach` / `harness watch` from the driver's machine
            message = self.agent.remote_command(message)
        self.agent.push(kind, message, trial)


class NodeAgent:
    """Owns one Docker host's part of a run (see the module's docstring)."""

    def __init__(self) -> None:
        import ray

        self._lock = threading.Lock()
        self._events: list[tuple[str, str, str | None]] = []
        self._warm: OrderedDict[int, Any] = OrderedDict()  # idle warm sandboxes, oldest first
        self._runner: Any = None
        self._image = ""
        self._slots = 1
        self._tmp: Path | None = None
        self._gateway: Any = None
        self._driver_host = ""
        self._unwrap = Unwrapper()
        ctx = ray.get_runtime_context()
        self.node_id = ctx.get_node_id()
        self.ip = ray.util.get_node_ip_address()
        self.node = f"{self.ip}/{self.node_id[:8]}"

    # ------------------------------------------------------------------ set-up

    def hello(self) -> dict[str, Any]:
        """Who this is (before ``start``): its node, Ray and Python versions, its public key
        for the run's model key (see ``secret``)."""
        import platform

        import ray

        return {"node": self.node, "node_id": self.node_id, "ip": self.ip, "host": socket.gethostname(),
                "ray": ray.__version__, "python": platform.python_version(),
                "public": self._unwrap.public}

    def start(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The run's part on this host: engine reached and swept (leftovers of dead runs go),
        images ready, Gateway started; returns how many trials it runs at once."""
        from controllers.profiles import get_profile
        from harness import providers
        from harness.runner.paths import RunPaths
        from harness.runner.run import Runner, available_mb, concurrency_for

        self._driver_host = spec["driver_host"]
        # owned by this actor's process: what a killed node agent leaves, `harness gc` sweeps
        self._tmp = Path(tempfile.mkdtemp(prefix=owner.temp_prefix("ray-node")))
        _local_images(spec["images_tar"], self._tmp)
        _driver_ca_bundle(spec["ca_bundle"], self._tmp)
        suite = _local_suite(spec["suite"], _resolved(spec["suite_tar"]), self._tmp,
                             Path(spec["suite_folder"]))
        opts = replace(spec["opts"], infra_retries=0)  # the driver retries: elsewhere, if need be
        profile = get_profile(opts.agent)
        self._gateway = _gateway(spec["gateway"], self._tmp, self._unwrap) if spec["gateway"] else None
        paths = RunPaths(self._tmp / "runs", spec["run_id"])
        runner = Runner(suite, opts, paths, _Sink(self), gateway=self._gateway,  # type: ignore[arg-type]
                        profile=profile)
        provider = providers.get_provider(opts.provider)
        say = lambda m: self.push("image", f"{self.node}: {m}", None)  # noqa: E731
        try:
            _start(provider, spec["run_id"], say)
            self._image = provider.ensure_image(profile.spec.image)
            runner._provider = provider
            runner._task_images = provider.task_images(suite.tasks, self._image)
        except BaseException:
            provider.close()
            raise
        self._runner = runner
        self._slots = opts.concurrency or concurrency_for(os.cpu_count() or 1, available_mb())
        from harness import engine

        return {"node": self.node, "slots": self._slots, "engine": engine.docker_endpoint()[0]}

    # ------------------------------------------------------------------ trials

    def run(self, key: tuple[str, str, int]) -> dict[str, Any] | None:
        """One trial (one try: the driver retries infra errors); its record, what it
        measured, the files it wrote (relative path, size) and the tasks whose warm
        sandboxes this host now holds."""
        from harness.runner.trial import TrialPlan, write_result

        r = self._runner
        task = next(t for t in r.suite.tasks if t.id == key[0])
        variant = next(v for v in r.opts.variants if v.name == key[1])
        plan = TrialPlan(task, variant, key[2])
        warm = self._take_warm(task.id)
        out, warm = r._one(r._env(), plan, self._image, warm)
        if warm is not None:
            self._put_warm(warm)
        if out is None:
            return None
        out.extra["node"] = self.node
        tp = r.paths.trial(*key)
        write_result(tp, out)
        files = sorted((p.relative_to(tp.dir).as_posix(), p.stat().st_size)
                       for p in tp.dir.rglob("*") if p.is_file())
        return {"record": out.record.model_dump(mode="json"), "extra": out.extra, "files": files,
                "warm": self.warm_tasks()}

    def read(self, key: tuple[str, str, int], rel: str, offset: int) -> bytes:
        """Up to ``CHUNK`` bytes of a trial's file from ``offset``."""
        base = self._runner.paths.trial(*key).dir
        path = (base / rel).resolve()
        if base.resolve() not in path.parents:
            raise ValueError(f"{rel} is outside the trial's folder")
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(CHUNK)

    def drop(self, key: tuple[str, str, int]) -> None:
        """The driver has a trial's files: gone from here."""
        shutil.rmtree(self._runner.paths.trial(*key).dir, ignore_errors=True)

    def warm_tasks(self) -> list[str]:
        with self._lock:
            return [w.task_id for w in self._warm.values()]

    def _take_warm(self, task_id: str) -> Any:
        with self._lock:
            for k, w in self._warm.items():
                if w.task_id == task_id:
                    return self._warm.pop(k)
        return None

    def _put_warm(self, warm: Any) -> None:
        """Idle until a trial of its task comes; past ``slots`` idle ones, the oldest goes."""
        with self._lock:
            self._warm[id(warm)] = warm
            extra = list(self._warm)[: max(0, len(self._warm) - self._slots)]
            old = [self._warm.pop(k) for k in extra]
        for w in old:
            self._runner._let_go(w)

    # ------------------------------------------------------------------ events, end

    def push(self, kind: str, message: str, trial: str | None) -> None:
        with self._lock:
            self._events.append((kind, message, trial))

    def events(self) -> list[tuple[str, str, str | None]]:
        """What happened since the last call (the driver polls while trials run)."""
        with self._lock:
            out, self._events = self._events, []
        return out

    def remote_command(self, command: str) -> str:
        """An attach command as it works from the driver's machine: through this host's
        engine when the host is another one."""
        from harness import engine

        return remote_command(command, self.ip, self._driver_host, engine.docker_endpoint()[0])

    def close(self) -> list[Any]:
        """Every warm sandbox let go (kept with --keep), the engine and Gateway released,
        the temp root removed; returns the Gateway's events for the driver's log."""
        events: list[Any] = []
        r = self._runner
        try:
            if r is not None:
                r._stop.set()
                with self._lock:
                    warm, self._warm = list(self._warm.values()), OrderedDict()
                for w in warm:
                    try:
                        r._let_go(w)
                    except Exception:  # noqa: BLE001 - the others still go
                        pass
                if r._provider is not None:
                    r._provider.close()
            if self._gateway is not None:
                events = list(self._gateway.events)
                self._gateway.close()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
        return events


def _start(provider: Any, run_id: str, say: Any, tries: int = 3) -> None:
    """``provider.start``, again after a moment when its sweep lost a race: another harness
    on the same engine (another run, another node agent of a one-machine cluster) removed a
    leftover while this sweep looked at it."""
    import time

    import docker.errors

    for i in range(tries):
        try:
            provider.start(run_id, say)
            return
        except docker.errors.NotFound:
            if i == tries - 1:
                raise
            time.sleep(1.0 + i)


def remote_command(command: str, node_ip: str, driver_ip: str, endpoint: str) -> str:
    """``command`` (a ``docker ...`` line) for the driver's machine: as it is on the same
    host; else with ``DOCKER_HOST`` naming the node's engine (a local socket over ssh)."""
    if node_ip == driver_ip:
        return command
    if endpoint.startswith("unix://"):
        endpoint = f"ssh://{node_ip}"
    return f"DOCKER_HOST={endpoint} {command}"


def _resolved(tar: Any) -> bytes | None:
    """The suite's archive itself: Ray resolves an ObjectRef passed as an argument but not
    one nested in a dict (the spec), so a node on another machine gets the ref and fetches
    it here (found on the multi-node rig: the worker host was left out of every run)."""
    import ray

    return ray.get(tar, timeout=120) if isinstance(tar, ray.ObjectRef) else tar


def _local_images(tar: bytes | None, tmp: Path) -> None:
    """Point image builds at the driver's ``images/`` when this host has none beside the
    shipped ``harness`` package (another machine: py_modules carry packages only)."""
    from harness import images

    if images.IMAGES_DIR.is_dir() or tar is None:
        return
    dest = tmp / "images"
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        _extract(tf, dest)
    images.IMAGES_DIR = dest


def _driver_ca_bundle(bundle: bytes | None, tmp: Path) -> None:
    """Image hashes as the driver's: its CA bundle (or none) instead of this host's, whose
    own /etc/ssl bundle differs on another machine (found on the rig: the worker then
    wanted to build harness/base although the driver's image was loaded there)."""
    from harness import images

    if bundle is None:
        os.environ[images.CA_ENV] = "none"
        return
    path = tmp / "driver-ca.crt"
    path.write_bytes(bundle)
    os.environ[images.CA_ENV] = str(path)


def _local_suite(suite: Any, tar: bytes | None, tmp: Path, folder: Path) -> Any:
    """The driver's suite as this host sees it: as it is where its ``folder`` (named by the
    driver) exists here (the same machine, a shared disk), else unpacked from the copy the
    driver sent, every task's folder and script moved there."""
    if folder.is_dir() or tar is None:
        return suite
    dest = tmp / "suite"
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        _extract(tf, dest)
    for task in suite.tasks:
        try:
            task.bind(dest / task.base_dir.relative_to(folder), getattr(task, "_source", ""))
        except ValueError:
            continue  # a task from outside the suite's folder: left as it is
        script = getattr(task, "script", None)
        if script and Path(script).is_absolute():
            try:
                task.script = str(dest / Path(script).relative_to(folder))
            except ValueError:
                pass
    return suite


def _extract(tf: tarfile.TarFile, dest: Path) -> None:
    """Unpack the driver's suite archive with the "data" filter; a node whose Python 3.11
    predates that filter (3.11.4; found on the rig's worker) gets the same refusals here:
    no absolute or escaping paths, no links, no devices."""
    if hasattr(tarfile, "data_filter"):
        tf.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for m in tf.getmembers():
        target = (dest / m.name).resolve()
        if m.issym():
            target = ((dest / m.name).parent / m.linkname).resolve()
        inside = target == root or root in target.parents
        if not (m.isfile() or m.isdir() or m.issym()) or not inside:
            raise ValueError(f"suite archive member {m.name!r} refused (link, device or outside)")
    tf.extractall(dest)  # noqa: S202 (members checked above)


def _gateway(spec: dict[str, Any], tmp: Path, unwrap: Unwrapper) -> Any:
    """This host's Gateway for the run: scripted and replay need no key; live gets the
    model key the driver wrapped for this agent alone."""
    from harness.gateway.policy import Policy
    from harness.gateway.server import Gateway
    from harness.gateway.upstream import Upstream

    mode, budget = spec["mode"], spec.get("budget_tokens")
    if mode == "scripted":
        return Gateway("scripted", policy=Policy(), budget_tokens=budget).start()
    if mode == "replay":
        cassette = tmp / "cassette.jsonl"
        cassette.write_bytes(spec["cassette"])
        return Gateway("replay", cassette=cassette, budget_tokens=budget).start()
    keys = {name: unwrap.open(box) for name, box in spec["keys"].items()}
    upstream = Upstream(keys=keys, urls=spec.get("urls") or {})
    return Gateway("passthrough", upstream=upstream, budget_tokens=budget).start()
