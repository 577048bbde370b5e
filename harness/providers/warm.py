"""Preparing a sandbox for a Task: workspace in, setup run, tool shims, pristine state sealed.

A ``WarmSandbox`` is one prepared container for one task. After a trial it is reset
(``controllers/pristine.sh``, as root): every process of the agent killed, and the whole
``.git``, the workspace (ignored files too) and every other place the agent can write
(home, /tmp, /var/tmp, /dev/shm, ...) put back to the pristine state, so the next trial of
the same task starts as in a fresh container without paying for a new container, a new copy
and a new setup. The pristine copies live where the agent cannot reach them. A reset that
cannot be trusted is not used: the container is replaced (``fresh_reason`` says why).
"""

from __future__ import annotations

import base64
import io
import shlex
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import controllers
from controllers.profiles.base import HOOK_PATH, STATE_DIR
from controllers.profiles.common import hook_files
from controllers.sandbox import DockerSandbox, owner
from controllers.sandbox.base import ExecResult
from controllers.snapshot import SCRIPT as SNAPSHOT_SH
from controllers.snapshot import GitSnapshotter, Snapshot
from harness.errors import HarnessError, SandboxError
from harness.gateway.relay import (
    IN_CONTAINER_PATH,
    IN_CONTAINER_PY,
    RELAY_JS,
    RELAY_PY,
    Relay,
    in_container_argv,
)
from harness.tasks import shims

if TYPE_CHECKING:
    from harness.tasks.schema import Task

WORKDIR = "/workspace"
RELAY_PORT = 48100
#: found through the controllers package, not beside harness/: Ray's py_modules ship each
#: package to a node in a folder of its own
PRISTINE_SH = (Path(controllers.__file__).resolve().parent / "pristine.sh").read_text()
#: the sealed state (root, 0700) and the pristine object store (root, read-only)
PRIVATE_DIR = "/var/lib/harness/state"
#: pristine.sh exit codes: the workspace cannot be sealed / a reset cannot be trusted; and
#: the postlude's: the trial's files could not be unpacked / its CLI did not start
UNSEALABLE, RESET_FAILED, POSTLUDE_FAILED = 10, range(20, 30), (6, 7)
#: (image id, workdir) -> the places the agent can write there (base64 of pristine.sh's
#: list): finding them walks the whole image (~2 s), and sandboxes of one image and workdir
#: differ only in what the harness owns or the agent already could write
_ROOTS: dict[tuple[str, str], str] = {}


class SetupFailed(SandboxError):
    """A task's setup command failed: the task (not the agent) is broken; infra_error."""


class ResetFailed(SandboxError):
    """A used sandbox could not be brought back to its pristine state (a process of the agent
    survived, the workspace could not be restored): it must not run another trial."""


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
    #: why this sandbox must not be reused at all ("" when a reset can be trusted)
    no_reuse: str = ""
    #: set when ``begin`` found the reset untrustworthy and replaced the container (the
    #: runner records it, then clears it)
    fresh_reason: str = ""
    #: provisions ``box`` again from scratch (workspace, setup, seal, relay) after a renew
    reprovision: Callable[[WarmSandbox], None] | None = None

    @property
    def state_dir(self) -> str:
        return STATE_DIR

    @property
    def gateway_url(self) -> str:
        """The relay's port inside the container (the Gateway itself is on the host)."""
        return f"http://127.0.0.1:{RELAY_PORT}"

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

        In the common case this is one exec: the reset, the files (the agent's own) unpacked
        from the exec's environment, the CLI started. Why: every exec or copy costs the engine
        ~45 ms of CPU and as much wall time. A reset that fails replaces the container (a
        fresh one, prepared as for a new task) and the trial starts there."""
        todo = {p: f for p, f in files.items() if self.static.get(p) != f}
        inline = {p: f for p, f in todo.items() if f[2] == self.box.config.user}
        env = _inline_env(inline)
        if env is None:
            inline, env = {}, {}
        rest = {p: f for p, f in todo.items() if p not in inline}
        tail = _then_script(then) if then and not rest else ""
        out, done = "", False
        if self.dirty:
            try:
                out, done = self.reset(env=env, tail=tail), True
            except ResetFailed as exc:
                self.renew(exc.one_line())
        if not done and (inline or tail):
            out = self._shell(f"{_unpack_script(env)}\n{tail}", env)
        if rest:
            self.box.write_files(rest, roots=roots)
        self.dirty = True
        if then and not tail:  # files that could not ride along went first: start now
            out = self._shell(_then_script(then))
        if not then:
            return []
        if THEN_MARKER + "\n" not in out:  # the exec said it ran, but its output is not all here
            raise SandboxError(f"the start of the agent's tmux server in {self.box.name} printed no "
                               f"start marker (output: {out[-200:]!r}); the engine's reply was cut short")
        return out.split(THEN_MARKER + "\n", 1)[1].splitlines()

    def _shell(self, script: str, env: dict[str, str] | None = None) -> str:
        r = self.box.exec(["sh", "-c", script], env=env or None, cwd=self.workdir, timeout_sec=300)
        if not r.ok:
            raise SandboxError(f"cannot start the trial in {self.box.name}: {r.describe()}")
        return r.stdout

    def reset(self, env: dict[str, str] | None = None, tail: str = "") -> str:
        """Back to the pristine task state in one exec (as root): the agent's processes
        killed, what it changed put back; with ``env`` from ``_inline_env`` its files
        unpacked, and ``tail`` (shell) run, as the agent, in the same exec. Returns the
        exec's output. ResetFailed when the sandbox cannot be trusted for another trial."""
        postlude = "\n".join(x for x in (_unpack_script(env or {}), tail) if x)
        try:
            r = self.box.exec(["bash", "-c", PRISTINE_SH, "pristine", "reset", postlude], user="root",
                              cwd="/", timeout_sec=300, env={**(env or {}), **self._seal_env()})
        except HarnessError as exc:
            raise ResetFailed(f"the reset of {self.box.name} failed: {exc.one_line()}") from exc
        if not r.ok and r.exit_code in POSTLUDE_FAILED and not r.timed_out:
            raise SandboxError(f"cannot start the trial in {self.box.name}: {_why(r)}")
        if not r.ok:  # RESET_FAILED, or the script died some other way: not to be trusted
            raise ResetFailed(f"the reset of {self.box.name} cannot be trusted: {_why(r)}")
        self.trials += 1
        self.dirty = False
        return r.stdout

    def _seal_env(self) -> dict[str, str]:
        return {"HARNESS_WS": self.workdir, "HARNESS_AGENT_USER": self.box.config.user}

    def seal(self) -> None:
        """Record the pristine state out of the agent's reach (once, after setup): see
        ``pristine.sh``. A workspace that cannot be sealed is run, but never reused."""
        image = (self.box.image_id, self.workdir)
        env = {**self._seal_env(), **({"HARNESS_ROOTS_B64": _ROOTS[image]} if image in _ROOTS else {})}
        r = self.box.exec(["bash", "-c", PRISTINE_SH, "pristine", "seal", SNAPSHOT_SH], user="root",
                          cwd="/", timeout_sec=600, env=env)
        for line in r.stderr.splitlines():
            if line.startswith("warning:"):
                self.notes.append(line)
        if r.exit_code == UNSEALABLE:
            self.no_reuse = _why(r)
            self.notes.append(f"no warm reuse: {self.no_reuse}")
            self.snapper = GitSnapshotter(self.box, self.workdir)
            self.pristine = self.snapper.snapshot("pristine")
            return
        if not r.ok:
            raise SandboxError(f"cannot record the pristine state of {self.box.name}: {_why(r)}")
        self.snapper = GitSnapshotter(self.box, self.workdir, user="root", private_dir=PRIVATE_DIR)
        lines = r.stdout.strip().splitlines()
        roots = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("roots ")]
        if image[0] and roots:
            _ROOTS[image] = roots[-1]
        commit = lines[-1] if lines else ""
        self.pristine = Snapshot("pristine", commit, self.workdir, False)

    def renew(self, why: str) -> None:
        """Replace the container by a freshly prepared one (same object: see
        ``DockerSandbox.renew``), because ``why``; the next trial runs there."""
        if self.reprovision is None:
            raise ResetFailed(why)
        self.fresh_reason = why
        self.notes.append(f"fresh container: {why}")
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        self.box.renew()
        self.dirty = False
        self.reprovision(self)


def _why(r: ExecResult) -> str:
    """The ``error:`` line of a failed exec, else its description."""
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    return errs[-1][len("error:"):].strip()[:300] if errs else r.describe()


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


def provision(box: DockerSandbox, task: Task, *, with_relay: bool, gateway_url: str | None,
              workdir: str = WORKDIR) -> WarmSandbox:
    """A started container made ``task``'s: workspace in, setup run, sealed, relay started
    (closed again when that fails)."""

    def again(w: WarmSandbox) -> None:
        _provision(w, task, with_relay and bool(gateway_url), gateway_url)

    w = WarmSandbox(task.id, box, None, None, workdir=workdir, reprovision=again)  # type: ignore[arg-type]
    try:
        again(w)
        return w
    except BaseException:
        w.close()
        raise


def _provision(w: WarmSandbox, task: Task, with_relay: bool, gateway_url: str | None) -> None:
    """Workspace in, setup run, pristine state sealed, relay started: into ``w.box``."""
    box, workdir = w.box, w.workdir
    # the workspace, the tool shims, their data, the empty tool log, the hook and the
    # relay: one engine call, no exec (each costs the engine ~45 ms of CPU)
    static = _harness_files(task, with_relay)
    roots = ("/opt/harness",)
    src = task.workspace_source()
    if src.kind == "dir" and src.path is not None:
        box.copy_in(src.path, workdir, files=static, roots=roots)
    elif src.kind == "git" and src.url:
        with tempfile.TemporaryDirectory(prefix=owner.temp_prefix("clone")) as tmp:
            _clone(src.url, getattr(src, "ref", None), Path(tmp) / "repo")
            box.copy_in(Path(tmp) / "repo", workdir, files=static, roots=roots)
    else:
        box.write_files(static, roots=roots)
    for i, cmd in enumerate(task.setup):
        r = box.exec(["bash", "-c", cmd], cwd=workdir, timeout_sec=600)
        if not r.ok:
            raise SetupFailed(f"setup[{i}] `{cmd[:80]}` failed: {r.describe()}")
    w.static = static
    w.seal()
    if with_relay and gateway_url:
        # as root: the reset kills every process of the agent, and the relay must live on
        w.relay = Relay(box.host_argv(in_container_argv("127.0.0.1", RELAY_PORT), interactive=True,
                                      user="root"), gateway_url).start()


def _harness_files(task: Task, relay: bool) -> FileMap:
    """What the harness puts in every sandbox of ``task``: its tool shims (on PATH), their
    data, an empty tool log the shims append to, the completion hook, and the Gateway
    relay's script. Only the log is the agent's (a reset empties it): the rest is root's."""
    files: FileMap = {shims.LOG_PATH: (b"", 0o644, "agent"), HOOK_PATH: hook_files()[HOOK_PATH]}
    for name, script in shims.render_tool_shims(task).items():
        files[f"{shims.SHIM_DIR}/{name}"] = (script, 0o755, "root")
    for rel, src in shims.tool_data(task).items():
        files[f"{shims.DATA_DIR}/{rel}"] = (src.read_bytes(), 0o644, "root")
    if relay:
        files[IN_CONTAINER_PATH] = (RELAY_JS.read_bytes(), 0o644, "root")
        files[IN_CONTAINER_PY] = (RELAY_PY.read_bytes(), 0o644, "root")
    return files
