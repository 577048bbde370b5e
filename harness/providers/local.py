"""The local provider: each trial in a fresh directory on this machine (``LocalSandbox``).

What it cannot do, said plainly: there is no isolation (the agent runs as you, with your
network and your files), no root (so no warm reset: ``pristine.sh`` needs root to kill the
agent's processes and restore what it wrote), and no image (the tools are this machine's).
So every trial gets a new directory and none is reused; it is for debugging a task or a
profile without an engine, and for proving the runner does not depend on Docker.

Layout of one sandbox: ``<tmp>/harness-local@<pid>.<start>-<random>/workspace`` (the task's
workspace) and ``.../root`` (where the files the harness writes at absolute places land:
tool shims, the hook, the agent's state dir and tmux socket). ``sweep`` removes the ones
whose owner process is gone, after ending the tmux servers whose sockets are in them.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controllers.profiles.base import STATE_DIR
from controllers.sandbox import owner
from controllers.sandbox.gc import DEFAULT_MAX_AGE_SEC, sweep_temp_dirs
from controllers.sandbox.local import LocalSandbox
from controllers.snapshot import GitSnapshotter, Snapshot
from harness.errors import ConfigError, SandboxError
from harness.providers.base import FileMap, ProviderBase, SandboxRequest, TaskSandbox
from harness.providers.warm import SetupFailed, _clone, _harness_files

#: the one image name the local provider accepts: the shell agents' (this machine's tools)
LOCAL_IMAGE = "base"
#: why a local sandbox never runs a second trial (the runner records it as ``fresh_reason``)
NO_REUSE = "local directory: no root to reset it, so every trial gets a fresh one"


@dataclass
class LocalTaskSandbox:
    """One task's directory, good for one trial."""

    task_id: str
    local: LocalSandbox
    base: str
    snapper: GitSnapshotter
    pristine: Snapshot
    gateway: str = ""
    trials: int = 0
    no_reuse: str = NO_REUSE
    fresh_reason: str = ""

    @property
    def box(self) -> LocalSandbox:
        return self.local

    @property
    def workdir(self) -> str:
        return self.local.workdir

    @property
    def state_dir(self) -> str:
        return f"{self.base}/root{STATE_DIR}"

    @property
    def gateway_url(self) -> str:
        return self.gateway

    def begin(self, files: FileMap, roots: tuple[str, ...] = (), then: list[str] | None = None) -> list[str]:
        """The trial's files written (absolute ones under ``root``), then ``then`` run."""
        del roots
        if self.trials:
            raise SandboxError(f"{self.base} already ran a trial: {NO_REUSE}")
        self.trials = 1
        self.local.write_files(files)
        if not then:
            return []
        r = self.local.exec(then, timeout_sec=60)
        if not r.ok:
            raise SandboxError(f"cannot start the trial in {self.base}: {r.describe()}")
        return r.stdout.splitlines()

    def close(self) -> None:
        """The agent's tmux servers ended (nothing else would: there is no container to
        remove), then the directory removed."""
        try:
            _end_servers(Path(self.base))
            self.local.close()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _end_servers(base: Path) -> None:
    """Kill the tmux servers whose sockets live under ``base`` (the pane's shell gets SIGHUP
    with them). Each ``kill-server`` has a deadline; a socket nobody answers is skipped."""
    for sock in base.glob(f"root{STATE_DIR}/*.sock"):
        try:
            subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, timeout=10,
                           check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue


#: the longest path a unix socket may have (sun_path is 108 bytes with its NUL)
MAX_SOCKET_PATH = 107
#: what follows a trial's directory in its tmux socket path
_SOCKET_TAIL = f"/root{STATE_DIR}/tmux-0123abcd.sock"


def _check_socket_room() -> None:
    """A trial's tmux socket lives in its directory under the temp dir; a long TMPDIR (macOS
    gives ~50 characters) would make tmux fail with "File name too long" at the trial's
    start, so say so before anything is made."""
    tmp = tempfile.gettempdir()
    longest = len(tmp) + len(f"/{owner.temp_prefix('local')}abcdefgh{_SOCKET_TAIL}")
    if longest > MAX_SOCKET_PATH:
        raise ConfigError(
            f"the temp dir {tmp} is too long for a trial's tmux socket "
            f"({longest} characters, at most {MAX_SOCKET_PATH})",
            hint="set TMPDIR to a shorter directory, e.g. TMPDIR=/tmp")


class LocalProvider(ProviderBase):
    """Trials in directories on this machine: no engine, no image, no isolation."""

    name = "local"

    def ensure_image(self, image: str) -> str:
        """Nothing to build: the tools are this machine's. An agent with an image of its own
        (claude, codex) is refused: its profile addresses its home, hook and state at the
        image's paths (``/home/agent``, ``/opt/harness``), which this provider maps for the
        harness's files but not for the agent's own process (it would write to this
        machine's ``/home/agent``, and its completion hook would not be found)."""
        if image != LOCAL_IMAGE:
            raise ConfigError(
                f"the local provider cannot run an agent that needs image {image!r}: "
                "its CLI expects the container's home and hook paths",
                hint="run it with --provider docker; locally, use --agent oracle or noop")
        return image

    def create(self, req: SandboxRequest) -> LocalTaskSandbox:
        """The task's workspace copied (or cloned) in, its harness files written, its setup
        run and its pristine state recorded, in a new directory."""
        _check_socket_room()
        base = tempfile.mkdtemp(prefix=owner.temp_prefix("local"))
        box = LocalSandbox(Path(base) / "workspace", root=Path(base) / "root")
        try:
            task = req.task
            src = task.workspace_source()
            if src.kind == "dir" and src.path is not None:
                box.copy_in(src.path, box.workdir)
            elif src.kind == "git" and src.url:
                os.rmdir(box.workdir)
                _clone(src.url, src.ref, Path(box.workdir))
            box.write_files(_harness_files(task, relay=False))
            for i, cmd in enumerate(task.setup):
                r = box.exec(["bash", "-c", cmd], cwd=box.workdir, timeout_sec=600)
                if not r.ok:
                    raise SetupFailed(f"setup[{i}] `{cmd[:80]}` failed: {r.describe()}")
            snapper = GitSnapshotter(box, box.workdir)
            return LocalTaskSandbox(task.id, box, base, snapper, snapper.snapshot("pristine"),
                                    gateway=req.gateway_url or "")
        except BaseException:
            box.close()
            shutil.rmtree(base, ignore_errors=True)
            raise

    def sweep(self, *, dry_run: bool = False,
              max_age_sec: float = DEFAULT_MAX_AGE_SEC) -> list[str]:
        """The directories of local sandboxes whose owner process is gone, and the agent tmux
        servers still running from them (a killed run's servers outlive it: tmux daemonizes).
        Age does not matter here: on this machine the owner's pid and start time are known."""
        del max_age_sec
        return [r.line() for r in sweep_temp_dirs(("local",), dry_run=dry_run,
                                                  before_remove=_end_servers)]

    def start(self, run_id: str, say: Callable[[str], None]) -> None:
        del run_id
        for line in self.sweep():
            say(f"removed {line}")

    def describe(self, sandbox: TaskSandbox) -> str:
        where = getattr(sandbox, "base", sandbox.workdir)
        return (f"local directory {where} on {socket.gethostname()}, no isolation "
                f"(runs as {getpass.getuser()}; a fresh directory per trial, no warm reuse)")
