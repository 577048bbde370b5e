"""Preparing a sandbox for a Task: workspace in, setup run, tool shims, pristine snapshot.

A ``WarmSandbox`` is one prepared container for one task. After a trial it is restored to
the pristine snapshot (workspace, HEAD, refs, index, stash) and the agent's home state is
wiped, so the next trial of the same task starts from the same bytes without paying for a
new container, a new copy and a new setup.
"""

from __future__ import annotations

import base64
import io
import shlex
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.profiles.base import AGENT_HOME, HOOK_PATH
from controllers.profiles.common import hook_files
from controllers.sandbox import DockerSandbox, DockerSandboxConfig, SandboxLimits
from controllers.snapshot import GitSnapshotter, Snapshot
from harness.errors import SandboxError
from harness.gateway.relay import (
    IN_CONTAINER_PATH,
    IN_CONTAINER_PY,
    RELAY_JS,
    RELAY_PY,
    Relay,
    in_container_argv,
)
from harness.tasks import shims

WORKDIR = "/workspace"
RELAY_PORT = 48100
HOME_STATE = (".claude", ".claude.json", ".codex", ".agents", ".harness", ".cache", ".config", ".local", ".npm")


class SetupFailed(SandboxError):
    """A task's setup command failed: the task (not the agent) is broken; infra_error."""


FileMap = dict[str, tuple[bytes | str, int, str]]
#: the trial's files ride in the reset exec's environment, base64 in pieces below Linux's
#: 128 KiB cap on one string; more than INLINE_MAX_BYTES goes by a separate copy instead
INLINE_PIECE_CHARS = 96 * 1024
INLINE_MAX_BYTES = 768 * 1024


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
    #: files prepare() wrote once for every trial (path -> what), skipped by ``begin``
    static: FileMap = field(default_factory=dict)
    #: a trial ran here since the pristine state: the next ``begin`` resets first
    dirty: bool = False

    def close(self) -> None:
        if self.relay is not None:
            try:
                self.relay.close()
            except Exception:  # noqa: BLE001 - never hide the original failure
                pass
        self.box.close()

    def begin(self, files: FileMap, roots: tuple[str, ...] = (), then: list[str] | None = None) -> list[str]:
        """Ready for a trial: back to pristine if a trial ran here, ``files`` written, then
        ``then`` run (the agent's tmux server started); returns what ``then`` printed.

        In the common case this is one exec: the agent's home wiped, the workspace restored,
        the files (the agent's own) unpacked from the exec's environment, the CLI started.
        Why: every exec or copy costs the engine ~45 ms of CPU and as much wall time."""
        todo = {p: f for p, f in files.items() if self.static.get(p) != f}
        inline = {p: f for p, f in todo.items() if f[2] == self.box.config.user}
        env = _inline_env(inline)
        if env is None:
            inline, env = {}, {}
        rest = {p: f for p, f in todo.items() if p not in inline}
        tail = _then_script(then) if then and not rest else ""
        out = ""
        if self.dirty:
            out = self.reset(env=env, tail=tail)
        elif inline or tail:
            out = self._shell(f"{_unpack_script(env)}\n{tail}", env)
        if rest:
            self.box.write_files(rest, roots=roots)
        self.dirty = True
        if then and not tail:  # files that could not ride along went first: start now
            out = self._shell(_then_script(then))
        return out.split(THEN_MARKER + "\n", 1)[1].splitlines() if then else []

    def _shell(self, script: str, env: dict[str, str] | None = None) -> str:
        r = self.box.exec(["sh", "-c", script], env=env or None, cwd=self.workdir, timeout_sec=300)
        if not r.ok:
            raise SandboxError(f"cannot start the trial in {self.box.name}: {r.describe()}")
        return r.stdout

    def reset(self, env: dict[str, str] | None = None, tail: str = "") -> str:
        """Back to the pristine task state: the agent's home wiped and the workspace restored
        in one exec; with ``env`` from ``_inline_env`` its files unpacked, and ``tail`` (shell)
        run, in the same exec. Returns the exec's output."""
        wipe = " ".join(f'"{AGENT_HOME}/{p}"' for p in HOME_STATE)
        # the last trial's tmux server (left running to save a round trip) ends here too
        prelude = (f"pkill -TERM -x tmux 2>/dev/null; rm -rf {wipe} {shims.LOG_PATH} && : > {shims.LOG_PATH} "
                   "|| { echo \"error: cannot reset the agent's home\" >&2; exit 3; }")
        postlude = "\n".join(x for x in (_unpack_script(env or {}), tail) if x)
        out = self.snapper.restore(self.pristine, prelude=prelude, postlude=postlude, env=env or None)
        self.trials += 1
        self.dirty = False
        return out


THEN_MARKER = "@@harness-then@@"


def _then_script(argv: list[str]) -> str:
    # tmux's own complaints go to stdout: ``started`` quotes them when no pane id follows
    return (f"echo {THEN_MARKER}; {shlex.join(argv)} 2>&1 "
            "|| { echo \"error: the agent's tmux server did not start\" >&2; exit 7; }")


def _unpack_script(env: dict[str, str]) -> str:
    """Shell that unpacks ``_inline_env``'s tar at / (as the exec's user, modes kept)."""
    if not env:
        return ""
    names = " ".join(sorted(env, key=lambda k: int(k.rsplit("_", 1)[1])))
    return (f"printenv {names} | base64 -d | tar -x -p -C / -f - "
            "|| { echo \"error: cannot unpack the trial's files\" >&2; exit 6; }")


def _inline_env(files: FileMap) -> dict[str, str] | None:
    """``files`` as a tar (paths from /, modes kept) in base64 pieces ``HARNESS_FILES_<n>``,
    or None when they are too big to ride in an environment."""
    if not files:
        return {}
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, (data, mode, _user) in sorted(files.items()):
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(raw), mode, now
            tar.addfile(info, io.BytesIO(raw))
    if buf.tell() > INLINE_MAX_BYTES:
        return None
    text = base64.b64encode(buf.getvalue()).decode()
    return {f"HARNESS_FILES_{i // INLINE_PIECE_CHARS}": text[i:i + INLINE_PIECE_CHARS]
            for i in range(0, len(text), INLINE_PIECE_CHARS)}


def _clone(url: str, ref: str | None, dest: Path) -> None:
    argv = ["git", "clone", "--quiet", "--no-hardlinks", url, str(dest)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if r.returncode == 0 and ref:
            r = subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", ref],
                               capture_output=True, text=True, timeout=120, check=False)
            if r.returncode == 0:
                r = _drop_later_refs(dest)
    except subprocess.TimeoutExpired as exc:
        raise SetupFailed(f"cloning {url} timed out") from exc
    if r.returncode != 0:
        raise SetupFailed(f"cloning {url}{'@' + ref if ref else ''} failed: {r.stderr.strip()[:200]}")


def _drop_later_refs(repo: Path) -> subprocess.CompletedProcess[str]:
    """After checking out a ``ref``: forget what came after it (branches, remote-tracking
    refs and tags that are not ancestors of HEAD, the reflogs), so a replay at a past commit
    cannot read the answer off a later commit with ``git log --all``. The remote's URL stays
    (the CLIs record it)."""
    git = ["git", "-C", str(repo)]
    later = subprocess.run([*git, "for-each-ref", "--no-merged", "HEAD", "--format=delete %(refname)",
                            "refs/heads", "refs/remotes", "refs/tags"], capture_output=True, text=True,
                           timeout=120, check=False)
    if later.returncode != 0:
        return later
    r = subprocess.run([*git, "update-ref", "--no-deref", "--stdin"], input=later.stdout, capture_output=True,
                       text=True, timeout=120, check=False)
    if r.returncode != 0:
        return r
    return subprocess.run([*git, "reflog", "expire", "--expire=now", "--all"], capture_output=True,
                          text=True, timeout=120, check=False)


def prepare(task: Any, *, image: str, client: Any, run_id: str, limits: SandboxLimits,
            with_relay: bool, gateway_url: str | None, workdir: str = WORKDIR) -> WarmSandbox:
    """A started container holding the task's workspace, set up and snapshotted."""
    box = DockerSandbox(
        DockerSandboxConfig(image=image, run_id=run_id, workdir=workdir, limits=limits), client=client
    ).start()
    relay: Relay | None = None
    try:
        # the workspace, the tool shims, their data, the empty tool log, the hook and the
        # relay: one engine call, no exec (each costs the engine ~45 ms of CPU)
        static = _harness_files(task, with_relay and bool(gateway_url))
        roots = ("/opt/harness",)
        src = task.workspace_source()
        if src.kind == "dir" and src.path is not None:
            box.copy_in(src.path, workdir, files=static, roots=roots)
        elif src.kind == "git" and src.url:
            with tempfile.TemporaryDirectory(prefix="harness-clone-") as tmp:
                _clone(src.url, getattr(src, "ref", None), Path(tmp) / "repo")
                box.copy_in(Path(tmp) / "repo", workdir, files=static, roots=roots)
        else:
            box.write_files(static, roots=roots)
        for i, cmd in enumerate(task.setup):
            r = box.exec(["bash", "-c", cmd], cwd=workdir, timeout_sec=600)
            if not r.ok:
                raise SetupFailed(f"setup[{i}] `{cmd[:80]}` failed: {r.describe()}")
        snapper = GitSnapshotter(box, workdir)
        pristine = snapper.snapshot("pristine")
        if with_relay and gateway_url:
            relay = Relay(box.host_argv(in_container_argv("127.0.0.1", RELAY_PORT), interactive=True),
                          gateway_url).start()
        return WarmSandbox(task.id, box, snapper, pristine, relay, workdir, notes=list(snapper.warnings),
                           static=static)
    except BaseException:
        if relay is not None:
            relay.close()
        box.close()
        raise


def _harness_files(task: Any, relay: bool) -> FileMap:
    """What the harness puts in every sandbox of ``task``: its tool shims (on PATH), their
    data, an empty tool log the shims append to, the completion hook, and the Gateway
    relay's script. None of it is under what a reset wipes or restores."""
    files: FileMap = {shims.LOG_PATH: (b"", 0o644, "agent"), HOOK_PATH: hook_files()[HOOK_PATH]}
    for name, script in shims.render_tool_shims(task).items():
        files[f"{shims.SHIM_DIR}/{name}"] = (script, 0o755, "agent")
    for rel, src in shims.tool_data(task).items():
        files[f"{shims.DATA_DIR}/{rel}"] = (src.read_bytes(), 0o644, "agent")
    if relay:
        files[IN_CONTAINER_PATH] = (RELAY_JS.read_bytes(), 0o644, "root")
        files[IN_CONTAINER_PY] = (RELAY_PY.read_bytes(), 0o644, "root")
    return files
