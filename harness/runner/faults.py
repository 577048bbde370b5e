"""Who is to blame when a trial goes wrong: the machinery (``infra_error``, retried, never
scored) or the agent (``agent_error``, final).

Why by cause and not by exception type: the same ``TransportError`` comes from a Docker
engine that restarted and from an agent that ran ``tmux kill-server``; the same
``SnapshotError`` from a broken engine and from an agent that deleted ``.git``. So after a
failure the engine and the container are asked directly. An engine that does not answer, or
a container that is no longer running, is infra. An engine that answers for a running
container whose insides are wrecked (the agent's processes, its tmux server or the
workspace's ``.git`` gone, the pid limit used up) is the agent's doing. A failure with no
such finding stays infra, as before.

The model side is judged the same way: a reply that never came (the Gateway still holds an
open request of the trial that has sent nothing for a while) and a key the upstream refused
(401/403) are infra, whatever the screen showed at the timeout.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from controllers.sandbox import owner
from gate.models import Artifacts
from harness.errors import ConfigError, GatewayError, HarnessError
from harness.runner.paths import TrialPaths

if TYPE_CHECKING:
    from controllers.sandbox.base import Sandbox
    from harness.gateway.server import Gateway

T = TypeVar("T")

#: a model request that has sent nothing for this long at the trial timeout never answered
STALL_SEC = 30.0
#: how long the engine may take to answer the probes that assign blame
PROBE_SEC = 15.0
AUTH_STATUSES = (401, 403)


@dataclass(frozen=True)
class ModelFault:
    """A model-side failure that ended a trial. ``kind``: auth | stalled | api."""

    kind: str
    reason: str


def auth_hint(mode: str, run_id: str) -> str:
    """What to do about a refused key, for the one line that stops the run."""
    if mode in ("record", "passthrough"):
        return ("check ANTHROPIC_API_KEY / OPENAI_API_KEY in the harness's environment, "
                f"then `harness run --resume {run_id}`")
    return f"the {mode} model answers 401/403: fix its policy, then `harness run --resume {run_id}`"


def key_refused(gateway: Gateway, trial_id: str) -> str | None:
    """Why the model API refused this trial's key (401/403), or None. The driver asks it
    while a turn runs: the CLI may sit on the error until the trial timeout, and every
    other trial would wait as long."""
    refused = [x for x in gateway.exchanges(trial_id) if x.status in AUTH_STATUSES]
    if not refused:
        return None
    x = refused[-1]
    note = f": {x.note}" if x.note else ""
    return f"the model API refused the key (HTTP {x.status}{note})"[:300]


def model_fault(gateway: Gateway, trial_id: str, *, timed_out: bool, timeout_sec: float) -> ModelFault | None:
    """What the Gateway saw go wrong for this trial, worst first: a refused key, a reply
    that never came (a request still open and silent at the trial timeout, or when the CLI
    gave up on it and ended its turn), the last main request failing (429 / 5xx, what the
    CLI retries and then gives up on)."""
    refused = key_refused(gateway, trial_id)
    if refused:
        return ModelFault("auth", refused)
    exchanges = gateway.exchanges(trial_id)
    stalled = gateway.stalled(trial_id, min(STALL_SEC, timeout_sec / 3))
    if stalled:
        return ModelFault("stalled", stalled if timed_out else stalled.replace("at the trial timeout",
                                                                               "when the turn ended"))
    mains = [x for x in exchanges if x.kind == "main"]
    if mains and (mains[-1].status == 429 or mains[-1].status >= 500):
        last = mains[-1]
        return ModelFault("api", f"model API error: HTTP {last.status} {last.note}".strip()[:300])
    return None


def _within(fn: Callable[[], T], sec: float) -> T:
    """``fn()`` or an exception: an engine that hangs must not hang the blame."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["v"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["e"] = exc

    t = threading.Thread(target=run, daemon=True, name="blame-probe")
    t.start()
    t.join(sec)
    if t.is_alive():
        raise TimeoutError(f"no answer within {sec:g}s")
    if "e" in box:
        raise box["e"]
    return box["v"]  # type: ignore[no-any-return]


def engine_gone(box: Sandbox) -> str | None:
    """Why the engine or the container failed us, or None when both still answer."""
    if not hasattr(box, "probe"):
        return None
    try:
        health = _within(lambda: box.probe(pids=False), PROBE_SEC)
    except Exception as exc:  # noqa: BLE001 - that is the finding
        return f"the Docker engine did not answer: {str(exc)[:200]}"
    return None if health.running else "the sandbox's container stopped (engine restart?)"


def git_gone(workdir: str) -> str:
    """The finding when the workspace's own repository was deleted (seen by ``wreckage``
    after a machinery error, or by the collect exec when nothing else broke)."""
    return f"the workspace's .git is gone (deleted from inside: {workdir}/.git)"


#: the sandbox's pid count and limit as its own cgroup shows them (v2, then v1), read by the
#: collect exec: a fork bomb whose processes outlive the turn fills the table even when the
#: CLI and the collect step still find room
PIDS_CURRENT = "/sys/fs/cgroup/pids.current /sys/fs/cgroup/pids/pids.current"
PIDS_MAX = "/sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max"


def pids_used_up(pids: int, limit: int) -> str | None:
    """The finding when the sandbox's pid table is (nearly) full, else None."""
    if limit > 0 and pids >= 0.9 * limit:
        return f"the sandbox's pid limit is used up ({pids} of {limit} processes: a fork bomb?)"
    return None


def pids_from_cgroup(current: str, limit: str) -> str | None:
    """``pids_used_up`` on the two cgroup files' text; None when either is absent or "max"
    (no limit: a local sandbox, or a host cgroup)."""
    c, m = current.strip(), limit.strip()
    return pids_used_up(int(c), int(m)) if c.isdigit() and m.isdigit() else None


def wreckage(box: Sandbox, workdir: str, agent_started: bool) -> list[str]:
    """What the agent destroyed inside a sandbox whose engine still answers; [] when the
    engine or the container is the problem (then it is infra) or nothing is found."""
    if not agent_started or not hasattr(box, "probe"):
        return []
    try:
        health = _within(box.probe, PROBE_SEC)
    except Exception:  # noqa: BLE001 - the engine did not answer: infra
        return []
    if not health.running:
        return []
    found: list[str] = []
    if health.pids is not None and health.pids_limit:
        found += [f] if (f := pids_used_up(health.pids, health.pids_limit)) else []
    script = (f'[ -d "{workdir}/.git" ] && echo git=yes || echo git=no; '
              'echo "procs=$(ps -u agent -o pid= 2>/dev/null | wc -l)"; '
              "pgrep -u agent tmux >/dev/null && echo tmux=yes || echo tmux=no")
    try:
        r = _within(lambda: box.exec(["sh", "-c", script], user="root", timeout_sec=PROBE_SEC), PROBE_SEC + 10)
    except Exception:  # noqa: BLE001 - no process can start in it: the pid finding says why
        return found or ["no process can start in the sandbox any more"]
    facts = dict(ln.split("=", 1) for ln in r.stdout.splitlines() if "=" in ln)
    if not facts:
        return found or [f"no process can start in the sandbox any more ({r.describe()[:120]})"]
    if facts.get("git") == "no":
        found.append(git_gone(workdir))
    if facts.get("procs", "").strip() == "0":
        # the CLI lives in the agent's tmux server: killing either takes the other down, so
        # what is left cannot tell `kill -9 -1` from `tmux kill-server`; say both
        found.append("every process of the agent user is gone and the agent's tmux server is gone "
                     "with them (killed from inside: `kill -9 -1`, or `tmux kill-server` taking the "
                     "CLI down)")
    elif facts.get("tmux") == "no":
        found.append("the agent's tmux server is gone (killed from inside)")
    return found


def blame(exc: BaseException, box: Sandbox, workdir: str, *, agent_started: bool) -> tuple[str, str]:
    """("agent" | "infra", reason) for a machinery error during a trial."""
    what = exc.one_line() if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (GatewayError, ConfigError)):
        return "infra", what
    found = wreckage(box, workdir, agent_started)
    if found:
        return "agent", f"the agent wrecked its sandbox: {'; '.join(found)} (then: {what[:200]})"
    return "infra", what


def copy_newest(box: Sandbox, pattern: str) -> bytes | None:
    """The newest file matching ``pattern`` (a glob), copied out by the engine without an
    exec: a sandbox whose pid limit is used up cannot start ``cat`` any more."""
    if not pattern or not hasattr(box, "copy_out"):
        return None
    parts = pattern.split("/")
    fixed = next(i for i, p in enumerate(parts) if any(c in p for c in "*?[")) if \
        any(c in pattern for c in "*?[") else len(parts) - 1
    root, rest = "/".join(parts[:fixed]), "/".join(parts[fixed:])
    with tempfile.TemporaryDirectory(prefix=owner.temp_prefix("salvage")) as tmp:
        try:
            _within(lambda: box.copy_out(root, Path(tmp) / "root"), PROBE_SEC)
        except Exception:  # noqa: BLE001 - nothing to salvage
            return None
        found = sorted(Path(tmp, "root").glob(rest), key=lambda p: p.stat().st_mtime)
        return found[-1].read_bytes() if found else None


def existing_artifacts(tp: TrialPaths, rel_dir: str) -> Artifacts:
    """The trial's artifact files, each named only when it exists (a wrecked or failed trial
    may have no cast, transcript or diff)."""

    def has(p: Path) -> str | None:
        return p.name if p.exists() else None

    return Artifacts(dir=rel_dir, pane=has(tp.pane), cast=has(tp.cast), transcript=has(tp.transcript),
                     diff=has(tp.diff))
