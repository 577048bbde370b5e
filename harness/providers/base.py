"""The sandbox provider seam: where the runner's trials run (Docker today; a local directory,
Kubernetes, a Ray node tomorrow).

Why a provider and not just a ``Sandbox``: a run needs more than a place to exec. It needs
the agent's image ready, a sandbox per task holding the task's workspace (set up, its
pristine state recorded), leftovers of killed runs swept, and a line saying where a trial ran.
The lifecycle is inspect_ai's: ``start`` once per run (engine, sweep), ``create`` per task,
``close`` once at the end. Few methods are required; the rest (task images, --keep, the tmux
controller) have defaults in ``ProviderBase`` that a provider overrides when it can do more.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from controllers.sandbox import SandboxLimits
from controllers.sandbox.base import Sandbox
from controllers.sandbox.gc import DEFAULT_MAX_AGE_SEC
from controllers.snapshot import GitSnapshotter, Snapshot
from controllers.tmux import controller as tmux

if TYPE_CHECKING:
    from harness.tasks.schema import Task

#: path -> (content, mode, owner: "agent" or "root"), as profiles and sandboxes write them
FileMap = dict[str, tuple[bytes | str, int, str]]


class TaskSandbox(Protocol):
    """A sandbox prepared for one task: its workspace in, set up, its pristine state recorded.

    ``begin`` readies it for a trial (back to pristine if one ran, the trial's files written,
    ``then`` run: the agent's tmux server); ``no_reuse`` says why it must not serve another
    trial ("" when it may); ``fresh_reason`` is set when ``begin`` had to replace it."""

    task_id: str
    snapper: GitSnapshotter
    pristine: Snapshot
    trials: int
    no_reuse: str
    fresh_reason: str

    @property
    def box(self) -> Sandbox:
        """Where commands run (read-only here: a provider keeps its own sandbox type)."""
        ...

    @property
    def workdir(self) -> str:
        """The task's workspace, where the agent starts."""
        ...

    @property
    def state_dir(self) -> str:
        """The harness's directory for the agent's tmux socket and hook state."""
        ...

    @property
    def gateway_url(self) -> str:
        """The Gateway's address as the agent sees it from inside."""
        ...

    def begin(self, files: FileMap, roots: tuple[str, ...] = (), then: list[str] | None = None) -> list[str]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SandboxRequest:
    """What ``create`` needs to prepare one task's sandbox."""

    task: Task
    image: str
    workdir: str
    run_id: str
    limits: SandboxLimits
    gateway_url: str | None = None  # the Gateway on this machine; None: no model is asked


class SandboxProvider(Protocol):
    """The seam the runner speaks to (see the module's docstring)."""

    name: str

    def start(self, run_id: str, say: Callable[[str], None]) -> None:
        """Per-run init: reach the engine, sweep what killed runs left."""
        ...

    def ensure_image(self, image: str) -> str:
        """The agent image ``image`` ready to start sandboxes from (built if missing)."""
        ...

    def create(self, req: SandboxRequest) -> TaskSandbox: ...

    def sweep(self, *, dry_run: bool = False,
              max_age_sec: float = DEFAULT_MAX_AGE_SEC) -> list[str]:
        """Remove (or list) what runs whose owner is gone left behind (containers, networks,
        volumes, directories, servers: whatever this provider makes), one line each; things
        it did not make are left alone. ``max_age_sec``: also what is older, whoever owns it,
        where the provider can tell (a remote engine shared by many hosts). Callable before
        ``start`` (``harness gc``): it opens and releases what it needs itself."""
        ...

    def describe(self, sandbox: TaskSandbox) -> str:
        """Where a trial runs, for its record (e.g. "docker container X on engine Y")."""
        ...

    # optional abilities: ProviderBase gives each a default

    def task_images(self, tasks: Sequence[Task], agent_image: str) -> dict[str, tuple[str, str]]:
        """task id -> (image, workdir) for tasks that bring their own environment."""
        ...

    def controller(self, sandbox: TaskSandbox) -> tmux.TmuxController:
        """A tmux controller for the agent's pane in ``sandbox`` (not started)."""
        ...

    def keep(self, sandbox: TaskSandbox) -> str:
        """Leave ``sandbox`` for the user after the run (--keep); returns what was kept."""
        ...

    def sweep_notes(self) -> list[str]:
        """What the last ``sweep`` left on purpose that its user could not guess (e.g. an
        engine's containers whose owner runs on another host), one line each."""
        ...

    def close(self) -> None:
        """Per-run cleanup (after every sandbox was closed or kept)."""
        ...


class ProviderBase:
    """Defaults for a provider's optional abilities: no task images, a control-mode tmux
    controller through the sandbox's host argv, ``keep`` that keeps nothing."""

    name = "?"

    def start(self, run_id: str, say: Callable[[str], None]) -> None:
        del run_id, say

    def task_images(self, tasks: Sequence[Task], agent_image: str) -> dict[str, tuple[str, str]]:
        del agent_image
        own = [t.id for t in tasks if t.environment_source() is not None]
        if own:
            from harness.errors import ConfigError

            raise ConfigError(f"the {self.name} provider cannot give tasks their own environment: "
                              f"{', '.join(own)}", hint="run them with --provider docker")
        return {}

    def controller(self, sandbox: TaskSandbox) -> tmux.TmuxController:
        # the socket lives in the state dir the trial's files create: no exec to make it
        return _controller_class()(sandbox.box, transport="control",
                                   socket_path=f"{sandbox.state_dir}/tmux-{uuid.uuid4().hex[:8]}.sock")

    def keep(self, sandbox: TaskSandbox) -> str:
        sandbox.close()
        return f"the {self.name} provider keeps nothing: {sandbox.task_id}'s sandbox removed"

    def sweep_notes(self) -> list[str]:
        return []

    def close(self) -> None:
        return None


def _controller_class() -> Callable[..., tmux.TmuxController]:
    """The tmux controller for any sandbox with a host argv (docker exec, or another prefix)."""
    return tmux.SandboxTmuxController


__all__ = ["FileMap", "ProviderBase", "SandboxProvider", "SandboxRequest", "TaskSandbox"]
