"""The Ray executor's driver side: node agents started, plans placed, results stored.

The driver keeps what a local run keeps (the store, the artifacts tree, the progress
display, resume, the gate): a trial's record comes back from its node agent, its files are
read in chunks into the same ``<run>/<task>/<variant>/<attempt>/`` folder (``result.json``
last: the complete marker), then ``Runner._record`` writes its row, exactly as a local
worker does. A node that dies mid-run loses nothing: each of its trials in flight goes back
to the queue as an infra retry (its row was never written, so it cannot be written twice).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, GatewayError, HarnessError
from harness.executors.ray_exec import cluster
from harness.executors.ray_exec.placement import Placement
from harness.executors.ray_exec.secret import seal

if TYPE_CHECKING:
    from harness.runner.run import Runner
    from harness.runner.trial import TrialOutcome, TrialPlan

#: seconds a node agent gets to reach its engine and build or find its images
START_TIMEOUT_SEC = float(os.environ.get("HARNESS_RAY_START_TIMEOUT_SEC", "1800"))
#: seconds for one chunk of a trial's file, one events poll, one drop
CALL_TIMEOUT_SEC = 120.0
#: an actor call at most this long past a trial's own deadline is a node that hangs
POLL_SEC = 0.5


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.nodes: dict[str, _Node] = {}

    # ------------------------------------------------------------------ the run

    def run(self, runner: Runner, todo: list[TrialPlan]) -> list[TrialOutcome]:
        ray = cluster.import_ray()
        started = cluster.connect(self.address, runtime_env())
        try:
            self._start_agents(ray, runner)
            try:
                return self._dispatch(ray, runner, todo)
            except KeyboardInterrupt:
                runner._stop.set()
                runner.store.set_run_status(runner.paths.run_id, "interrupted")
                runner.store.event(runner.paths.run_id, "interrupted", "stopped by the user; resume with --resume")
                raise
        finally:
            self._close_agents(ray, runner)
            if started:
                ray.shutdown()

    def _start_agents(self, ray: Any, runner: Runner) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from harness.executors.ray_exec.agent import NodeAgent

        actor = ray.remote(NodeAgent)
        for n in cluster.docker_nodes():
            handle = actor.options(
                num_cpus=0, max_concurrency=256, max_restarts=0, max_task_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote()
            self.nodes[n["NodeID"]] = _Node(handle, n["NodeID"])
        hellos = _gather(ray, {k: v.handle.hello.remote() for k, v in self.nodes.items()}, 120.0, "start")
        cluster.check_versions(ray.__version__, list(hellos.values()))
        suite_tar = _suite_tar(runner)
        tar_ref = ray.put(suite_tar) if suite_tar is not None else None
        images_tar = _images_tar()
        driver_host = ray.util.get_node_ip_address()
        refs = {}
        for k, node in self.nodes.items():
            node.name = hellos[k]["node"]
            spec = {"run_id": runner.paths.run_id, "suite": runner.suite, "suite_tar": tar_ref,
                    "opts": runner.opts, "driver_host": driver_host, "images_tar": images_tar,
                    "suite_folder": str(_suite_folder(runner)),
                    "ca_bundle": _ca_bundle(),
                    "gateway": _gateway_spec(runner, hellos[k]["public"])}
            refs[k] = node.handle.start.remote(spec)
        failed: list[str] = []
        for k, got in _gather(ray, refs, START_TIMEOUT_SEC, "start", keep_errors=True).items():
            node = self.nodes[k]
            if isinstance(got, BaseException):
                line = _one_line(got)
                failed.append(f"{node.name}: {line}")
                runner.store.event(runner.paths.run_id, "node", f"{node.name} left out: {line}")
                node.dead = True
                continue
            node.slots = int(got["slots"])
            runner.store.event(runner.paths.run_id, "node",
                               f"{node.name}: {node.slots} trials at once, engine {got['engine']}")
            runner.on_event("image", f"node {node.name} ready ({node.slots} slots)")
        if all(n.dead for n in self.nodes.values()):
            raise ConfigError(f"no Docker host of the Ray cluster could start: {failed[0]}",
                              hint="each node needs a running Docker engine and the agent image (`harness images build`)")

    def _dispatch(self, ray: Any, runner: Runner, todo: list[TrialPlan]) -> list[TrialOutcome]:
        place = Placement(todo)
        inflight: dict[Any, tuple[_Node, TrialPlan]] = {}
        tries: dict[tuple[str, str, int], int] = {}
        results: list[TrialOutcome] = []
        polls: dict[Any, _Node] = {}
        while (len(place) or inflight) and not runner._stop.is_set():
            alive = [n for n in self.nodes.values() if not n.dead]
            if not alive:
                raise HarnessError("every Docker host of the Ray cluster left mid-run",
                                   hint=f"bring nodes back, then `harness run --resume {runner.paths.run_id}`")
            self._fill(runner, place, inflight, alive)
            for n in alive:
                if n.poll is None:
                    n.poll = n.handle.events.remote()
                    polls[n.poll] = n
            wait_on = list(inflight) + list(polls)
            due = place.next_due()
            timeout = POLL_SEC if due is None else max(0.0, min(POLL_SEC, due - time.monotonic()))
            ready, _ = ray.wait(wait_on, num_returns=1, timeout=timeout) if wait_on else ([], [])
            if wait_on and not ready:
                continue
            ready = ray.wait(wait_on, num_returns=len(wait_on), timeout=0)[0] if ready else []
            for ref in ready:
                if ref in polls:
                    self._events(ray, runner, polls.pop(ref), ref)
                    continue
                if ref not in inflight:
                    continue  # its node died: already back in the queue
                node, plan = inflight.pop(ref)
                node.busy -= 1
                place.finished(plan)
                with runner.progress.lock:
                    runner.progress.running -= 1
                try:
                    res = ray.get(ref, timeout=CALL_TIMEOUT_SEC)
                    if res is None:
                        continue  # stopped while it ran: --resume runs it again
                    outcome = self._bring_back(ray, runner, node, plan, res, place, tries)
                except ray.exceptions.RayTaskError as exc:
                    # the node agent's own code raised: the node is alive, this trial failed
                    # as infrastructure (retried, elsewhere too), the node keeps its slots
                    why = f"node {node.name}: {str(exc.cause if exc.cause else exc).splitlines()[-1][:300]}"
                    if not self._retry(runner, plan, tries, place, why):
                        results.append(self._give_up(runner, plan, why))
                    continue
                except ray.exceptions.RayError as exc:
                    self._node_died(runner, node, exc, inflight, place, tries)
                    if not self._retry(runner, plan, tries, place, f"node {node.name} left mid-trial"):
                        results.append(self._give_up(runner, plan, f"node {node.name} left mid-trial"))
                    continue
                if outcome is not None:
                    results.append(outcome)
        if runner._fatal is not None:
            runner.store.set_run_status(runner.paths.run_id, "stopped")
            runner.store.event(runner.paths.run_id, "stopped", runner._fatal)
            from harness.runner.faults import auth_hint

            mode = runner.gateway.mode if runner.gateway is not None else "model"
            raise GatewayError(runner._fatal, hint=auth_hint(mode, runner.paths.run_id))
        return results

    def _fill(self, runner: Runner, place: Placement, inflight: dict[Any, Any], alive: list[_Node]) -> None:
        """Every free slot gets a plan: first each node its warm tasks, then anything."""
        for take_any in (False, True):
            for node in alive:
                while node.busy < node.slots:
                    plan = place.take(node.name) if take_any else place.take_warm(node.name)
                    if plan is None:
                        break
                    node.busy += 1
                    inflight[node.handle.run.remote(plan.key)] = (node, plan)
                    with runner.progress.lock:
                        runner.progress.running += 1
                    runner.on_event("start", f"{plan.label} on {node.name}")
                    runner.store.event(runner.paths.run_id, "placed", node.name, plan.label)

    def _bring_back(self, ray: Any, runner: Runner, node: _Node, plan: TrialPlan, res: dict[str, Any],
                    place: Placement, tries: dict[tuple[str, str, int], int]) -> TrialOutcome | None:
        """A finished trial's files copied here and its row written; an infra error retried
        (here or on another node) while tries are left."""
        from gate.models import TrialRecord
        from harness.runner.trial import TrialOutcome

        place.warm[node.name] = set(res.get("warm") or ())
        record = TrialRecord.model_validate(res["record"])
        outcome = TrialOutcome(record, res["extra"])
        infra = (record.status == "infra_error" and outcome.extra.get("model_fault") != "auth"
                 and not runner._stop.is_set())
        if infra and self._retry(runner, plan, tries, place, None):
            _call(ray, node.handle.drop.remote(plan.key))
            return None
        dest = runner.paths.trial(*plan.key).dir
        copy_trial(ray, node.handle, plan.key, res["files"], dest)
        _call(ray, node.handle.drop.remote(plan.key))
        runner._record(outcome)
        if outcome.extra.get("model_fault") == "auth" and runner._fatal is None:
            runner._fatal = f"stopped at {plan.label}: {record.reason}"
            runner._stop.set()
        return outcome

    def _retry(self, runner: Runner, plan: TrialPlan, tries: dict[tuple[str, str, int], int],
               place: Placement, why: str | None) -> bool:
        """Back to the queue after the backoff, while tries are left (``why``: an event
        to write; the node agent already wrote its own trial's infra error)."""
        from harness.runner.run import backoff_sec

        n = tries[plan.key] = tries.get(plan.key, 0) + 1
        if why is not None:
            runner.store.event(runner.paths.run_id, "infra_error", why, plan.label)
            runner.on_event("infra_error", f"{plan.label}: {why}")
        if n > runner.opts.infra_retries:
            return False
        wait = backoff_sec(n, runner.opts.infra_retries, runner.opts.infra_backoff_sec)
        shutil.rmtree(runner.paths.trial(*plan.key).dir, ignore_errors=True)  # a copy cut short
        place.push(plan, time.monotonic() + wait)
        return True

    def _give_up(self, runner: Runner, plan: TrialPlan, why: str) -> TrialOutcome:
        """Out of tries for a trial its nodes kept dying under: an infra_error row."""
        from harness.runner.run import _infra_outcome

        out = _infra_outcome(SimpleNamespace(paths=runner.paths, run_id=runner.paths.run_id), plan,  # type: ignore[arg-type]
                             f"{why} ({runner.opts.infra_retries + 1} tries)")
        runner._record(out)
        return out

    def _node_died(self, runner: Runner, node: _Node, exc: BaseException, inflight: dict[Any, Any],
                   place: Placement, tries: dict[tuple[str, str, int], int]) -> None:
        """Its other trials in flight go back to the queue as infra retries."""
        if node.dead:
            return
        node.dead = True
        place.node_gone(node.name)
        runner.store.event(runner.paths.run_id, "node", f"{node.name} left the cluster: {_one_line(exc)}")
        runner.on_event("infra_error", f"node {node.name} left the cluster")
        for ref, (n, plan) in list(inflight.items()):
            if n is node:
                inflight.pop(ref)
                place.finished(plan)
                with runner.progress.lock:
                    runner.progress.running -= 1
                if not self._retry(runner, plan, tries, place, f"node {node.name} left mid-trial"):
                    self._give_up(runner, plan, f"node {node.name} left mid-trial")

    def _events(self, ray: Any, runner: Runner, node: _Node, ref: Any) -> None:
        node.poll = None
        try:
            events = ray.get(ref, timeout=CALL_TIMEOUT_SEC)
        except ray.exceptions.RayError:
            return  # the node's trials tell whether it died
        for kind, message, trial in events:
            if kind == "attach" and trial:
                with runner.progress.lock:
                    runner.progress.attach[trial] = message
            if kind == "image":
                runner.on_event("image", message)
                continue
            runner.store.event(runner.paths.run_id, kind, message, trial)
            if kind == "infra_error":
                runner.on_event("infra_error", f"{trial}: {message} (on {node.name})")

    def _close_agents(self, ray: Any, runner: Runner) -> None:
        """Each agent lets its sandboxes go and hands over its Gateway's events (the run's
        gateway.jsonl), then ends."""
        live = {k: n for k, n in self.nodes.items() if not n.dead}
        got = _gather(ray, {k: n.handle.close.remote() for k, n in live.items()}, 300.0, "close",
                      keep_errors=True) if live else {}
        gw = runner.gateway
        for events in got.values():
            if isinstance(events, list) and gw is not None:
                for e in events:
                    gw._events.add(e)
        for n in self.nodes.values():
            try:
                ray.kill(n.handle)
            except Exception:  # noqa: BLE001, S110 - gone already
                pass


class _Node:
    def __init__(self, handle: Any, node_id: str) -> None:
        self.handle, self.node_id = handle, node_id
        self.name = node_id[:8]
        self.slots = 0
        self.busy = 0
        self.dead = False
        self.poll: Any = None


def copy_trial(ray: Any, handle: Any, key: tuple[str, str, int], files: list[tuple[str, int]],
               dest: Path) -> None:
    """A trial's files from its node into ``dest``, a chunk at a time (never a whole file in
    memory); ``result.json`` last, so a folder with one is whole."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, size in sorted(files, key=lambda f: f[0] == "result.json"):
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as fh:
            offset = 0
            while offset < size or offset == 0:
                chunk = ray.get(handle.read.remote(key, rel, offset), timeout=CALL_TIMEOUT_SEC)
                if not chunk:
                    break
                fh.write(chunk)
                offset += len(chunk)
        tmp.replace(path)


def runtime_env() -> dict[str, Any]:
    """The driver's own harness, controllers and gate go to every node with the job, so a
    node runs the driver's code version (a node needs only the dependencies installed)."""
    import controllers
    import gate
    import harness

    return {"py_modules": [harness, controllers, gate],
            "excludes": ["__pycache__", "*.pyc"],
            "env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}}


def _gateway_spec(runner: Runner, public: int) -> dict[str, Any] | None:
    """What a node needs to start its own Gateway; live mode's keys sealed for this node."""
    gw = runner.gateway
    if gw is None:
        return None
    spec: dict[str, Any] = {"mode": gw.mode, "budget_tokens": gw.budget_tokens}
    if gw.mode == "replay":
        if runner.opts.cassette is None:
            raise ConfigError("--model-mode replay on a Ray cluster needs --cassette FILE")
        spec["cassette"] = Path(runner.opts.cassette).read_bytes()
    elif gw.mode == "passthrough":
        up = getattr(gw.serving, "upstream", None)
        if up is None:
            raise ConfigError("--model-mode live: the Gateway has no upstream to hand to the nodes")
        spec["keys"] = {p: seal(k, public) for p, k in up._keys.items()}
        spec["urls"] = dict(up.urls)
    elif gw.mode != "scripted":
        raise ConfigError(f"--model-mode {gw.mode} cannot run on a Ray cluster", hint="use --executor local")
    return spec


def _suite_tar(runner: Runner) -> bytes | None:
    """The suite's folder packed, for nodes that cannot see it (another machine)."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(_suite_folder(runner), arcname=".", filter=_not_git_or_cache)
    return buf.getvalue()


def _not_git_or_cache(ti: Any) -> Any:
    """A repository's own ``.git`` and Python caches stay home; everything else travels,
    ``.gitignore`` first of all (without it a workspace's caches show in a node's diffs)."""
    parts = PurePosixPath(ti.name).parts
    return None if ".git" in parts or "__pycache__" in parts else ti


def _images_tar() -> bytes | None:
    """The driver's image build contexts (``images/``, a few KB), for a node that builds or
    hashes an image: Ray's py_modules carry the packages, not this folder beside them."""
    import io
    import tarfile

    from harness import images

    if not images.IMAGES_DIR.is_dir():
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(images.IMAGES_DIR, arcname=".", filter=_not_git_or_cache)
    return buf.getvalue()


def _suite_folder(runner: Runner) -> Path:
    """The folder ``_suite_tar`` packs, named by the driver: a node where the suite's path
    does not exist cannot tell a folder from a file by looking (found on the rig)."""
    root = Path(runner.suite.root)
    return root if root.is_dir() else root.parent


def _ca_bundle() -> bytes | None:
    """The driver's extra CA bundle (it feeds every image's content hash): a node that
    used its own would look for, and try to build, images of other hashes."""
    from harness import images

    path = images.resolve_ca_bundle()
    return path.read_bytes() if path is not None else None


def _gather(ray: Any, refs: dict[str, Any], timeout_sec: float, what: str,
            keep_errors: bool = False) -> dict[str, Any]:
    """Every call's value, or (``keep_errors``) its exception; a call past ``timeout_sec``
    is one line naming what did not answer."""
    ready, pending = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_sec)
    if pending and not keep_errors:
        raise ConfigError(f"{len(pending)} node agent(s) did not {what} within {timeout_sec:g} s",
                          hint="check the nodes (`ray status`) and their Docker engines")
    out: dict[str, Any] = {}
    for k, ref in refs.items():
        if ref not in ready:
            out[k] = TimeoutError(f"no answer to {what} within {timeout_sec:g} s")
            continue
        try:
            out[k] = ray.get(ref, timeout=CALL_TIMEOUT_SEC)
        except Exception as exc:  # noqa: BLE001 - reported per node
            if not keep_errors:
                raise ConfigError(f"a node agent failed to {what}: {_one_line(exc)}") from None
            out[k] = exc
    return out


def _call(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref, timeout=CALL_TIMEOUT_SEC)
    except Exception:  # noqa: BLE001 - a cleanup call; the node's temp root goes at close
        return None


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, HarnessError):
        return cause.one_line()
    text = str(exc).strip().splitlines()
    line = next((ln for ln in reversed(text) if ln.strip()), type(exc).__name__)
    return line.strip()[:300]

