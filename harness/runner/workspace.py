"""Preparing a sandbox for a Task: workspace in, setup run, tool shims, pristine snapshot.

A ``WarmSandbox`` is one prepared container for one task. After a trial it is restored to
the pristine snapshot (workspace, HEAD, refs, index, stash) and the agent's home state is
wiped, so the next trial of the same task starts from the same bytes without paying for a
new container, a new copy and a new setup.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.profiles.base import AGENT_HOME, STATE_DIR
from controllers.sandbox import DockerSandbox, DockerSandboxConfig, SandboxLimits
from controllers.snapshot import GitSnapshotter, Snapshot
from harness.errors import SandboxError
from harness.gateway.relay import IN_CONTAINER_PATH, RELAY_JS, Relay
from harness.tasks import shims

WORKDIR = "/workspace"
RELAY_PORT = 48100
HOME_STATE = (".claude", ".claude.json", ".codex", ".agents", ".harness", ".cache", ".config", ".local", ".npm")


class SetupFailed(SandboxError):
    """A task's setup command failed: the task (not the agent) is broken; infra_error."""


@dataclass
class WarmSandbox:
    task_id: str
    box: DockerSandbox
    snapper: GitSnapshotter
    pristine: Snapshot
    relay: Relay | None = None
    workdir: str = WORKDIR
    trials: int = 0
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.relay is not None:
            try:
                self.relay.close()
            except Exception:  # noqa: BLE001 - never hide the original failure
                pass
        self.box.close()

    def reset(self) -> None:
        """Back to the pristine task state for the next trial (one restore + one wipe)."""
        self.snapper.restore(self.pristine)
        wipe = " ".join(f'"{AGENT_HOME}/{p}"' for p in HOME_STATE)
        # the last trial's tmux server (left running to save a round trip) ends here too
        r = self.box.exec(["sh", "-c", f"pkill -TERM -x tmux 2>/dev/null; rm -rf {wipe} /harness/tools/tools.log; "
                                       ": > /harness/tools/tools.log"])
        if not r.ok:
            raise SandboxError(f"cannot reset the agent's home: {r.describe()}")
        self.trials += 1


def _clone(url: str, ref: str | None, dest: Path) -> None:
    argv = ["git", "clone", "--quiet", "--no-hardlinks", url, str(dest)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if r.returncode == 0 and ref:
            r = subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", ref],
                               capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SetupFailed(f"cloning {url} timed out") from exc
    if r.returncode != 0:
        raise SetupFailed(f"cloning {url}{'@' + ref if ref else ''} failed: {r.stderr.strip()[:200]}")


def prepare(task: Any, *, image: str, client: Any, run_id: str, limits: SandboxLimits,
            with_relay: bool, gateway_url: str | None, workdir: str = WORKDIR) -> WarmSandbox:
    """A started container holding the task's workspace, set up and snapshotted."""
    box = DockerSandbox(
        DockerSandboxConfig(image=image, run_id=run_id, workdir=workdir, limits=limits), client=client
    ).start()
    relay: Relay | None = None
    try:
        src = task.workspace_source()
        if src.kind == "dir" and src.path is not None:
            box.copy_in(src.path, workdir)
        elif src.kind == "git" and src.url:
            with tempfile.TemporaryDirectory(prefix="harness-clone-") as tmp:
                _clone(src.url, getattr(src, "ref", None), Path(tmp) / "repo")
                box.copy_in(Path(tmp) / "repo", workdir)
        _install_tools(box, task)
        for i, cmd in enumerate(task.setup):
            r = box.exec(["bash", "-c", cmd], cwd=workdir, timeout_sec=600)
            if not r.ok:
                raise SetupFailed(f"setup[{i}] `{cmd[:80]}` failed: {r.describe()}")
        snapper = GitSnapshotter(box, workdir)
        pristine = snapper.snapshot("pristine")
        if with_relay and gateway_url:
            box.write_file(IN_CONTAINER_PATH, RELAY_JS.read_bytes(), user="root")
            relay = Relay(box.host_argv(["node", IN_CONTAINER_PATH, "127.0.0.1", str(RELAY_PORT)],
                                        interactive=True), gateway_url).start()
        box.exec(["mkdir", "-p", STATE_DIR])
        return WarmSandbox(task.id, box, snapper, pristine, relay, workdir, notes=list(snapper.warnings))
    except BaseException:
        if relay is not None:
            relay.close()
        box.close()
        raise


def _install_tools(box: DockerSandbox, task: Any) -> None:
    r = box.exec(["sh", "-c", "mkdir -p /harness/tools/bin /harness/tools/data && : > /harness/tools/tools.log "
                  "&& chown -R agent:agent /harness"], user="root")
    if not r.ok:
        raise SandboxError(f"cannot prepare /harness/tools: {r.describe()}")
    for name, script in shims.render_tool_shims(task).items():
        box.write_file(f"{shims.SHIM_DIR}/{name}", script, mode=0o755)
    for rel, src in shims.tool_data(task).items():
        box.write_file(f"{shims.DATA_DIR}/{rel}", src.read_bytes())
