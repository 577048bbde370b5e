"""A Sandbox in a Docker container: labelled, limited, offline by default, owned.

Why the SDK for exec (and not ``docker exec`` processes): an SDK exec is a few HTTP calls on
one socket, several times cheaper than a CLI process, and the runner does many (their
output is read by ``exec_stream``, which docker-py's own reader can cut short). The
deadline is enforced *inside* the container with coreutils ``timeout -k`` (killing a host
client would leave the process running), and a host-side thread join is the backstop for
an engine that stops answering. ``host_argv`` still hands out ``docker exec`` argv for the
tmux transports, because the docker CLI follows DOCKER_HOST and contexts by itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from controllers.sandbox import owner
from controllers.sandbox.base import ExecResult
from controllers.sandbox.config import DockerSandboxConfig
from controllers.sandbox.exec_stream import exec_output
from harness import engine, labels
from harness.engine import engine_errors
from harness.errors import ImageError, SandboxClosed, SandboxError

KILL_GRACE_SEC = 2
HOST_BACKSTOP_SEC = 30.0
_USER_IDS = {"agent": (1000, 1000), "root": (0, 0)}


class DockerSandbox:
    """One container per Trial. Use as ``with DockerSandbox(cfg) as box: box.exec([...])``.

    A start that fails halfway removes what it made and re-raises; ``close()`` is safe twice;
    a closed sandbox refuses reuse (SandboxClosed).
    """

    def __init__(self, config: DockerSandboxConfig | None = None, *, client: Any = None) -> None:
        self.config = config or DockerSandboxConfig()
        self.workdir = self.config.workdir
        self._client = client
        self._own_client = client is None
        self._container: Any = None
        self._closed = False
        self._oom_kills = 0
        self.name = f"{self.config.name_prefix}-{self.config.run_id}-{uuid.uuid4().hex[:8]}"[:63]

    # ------------------------------------------------------------------ lifecycle

    @property
    def container_id(self) -> str:
        self._require_open()
        return str(self._container.id)

    @property
    def image_id(self) -> str:
        """The id of the image this container runs ("" when unknown)."""
        self._require_open()
        return str(self._container.attrs.get("Image") or "")

    def __enter__(self) -> DockerSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> DockerSandbox:
        if self._closed:
            raise SandboxClosed("this sandbox was closed; create a new one")
        if self._container is not None:
            return self
        if self._client is None:
            self._client = engine.client()
        if owner.unremoved():  # containers an engine restart kept from going: now they go
            owner.retry_unremoved(self._client)
        cfg = self.config
        lim = cfg.limits
        missing = ImageError(f"image {cfg.image} is not in the engine",
                             hint="run `harness images build` (or `harness images bootstrap` first when offline)")
        try:
            with engine_errors(f"could not start a container from {cfg.image}", not_found=lambda _e: missing):
                self._container = self._client.containers.create(
                    cfg.image,
                    command=["sleep", "infinity"],
                    name=self.name,
                    init=True,
                    detach=True,
                    labels=owner.owner_labels(cfg.run_id),
                    mem_limit=lim.memory_bytes,
                    memswap_limit=lim.memory_bytes,
                    pids_limit=lim.pids,
                    nano_cpus=int(lim.cpus * 1e9),
                    network_mode=cfg.network,
                    working_dir=cfg.workdir,
                    # the init and its ``sleep`` run as root: an agent's ``kill -9 -1`` (or a reset,
                    # which kills every process of the exec user) ends only the agent's processes
                    user="root",
                    environment=dict(cfg.env),
                    hostname="sandbox",
                )
                owner.register(self)
                self._container.start()
                self._wait_ready()
        except BaseException:
            self._teardown_quietly()
            raise
        return self

    def renew(self) -> DockerSandbox:
        """A new container from the same config in place of this one (which is removed).

        Why the same object: what holds the sandbox (a trial's tmux controller) follows it,
        so a warm container found unfit can be replaced in the middle of a trial's start."""
        self._require_open()
        old, self._container = self._container, None
        with contextlib.suppress(Exception):  # gone already is fine; gc reaps the rest
            old.remove(force=True, v=True)
        self._oom_kills = 0
        self.name = f"{self.config.name_prefix}-{self.config.run_id}-{uuid.uuid4().hex[:8]}"[:63]
        return self.start()

    def _wait_ready(self) -> None:
        """Until the engine reports the container running. An inspect, not an exec: an exec
        costs the engine ~45 ms of CPU (runc), and the first real exec follows anyway."""
        deadline = time.monotonic() + self.config.start_timeout_sec
        while True:
            self._container.reload()
            state = self._container.attrs.get("State", {})
            if state.get("Running"):
                return
            if state.get("Status") in ("exited", "dead") or time.monotonic() > deadline:
                raise SandboxError(f"container {self.name} is not running ({state.get('Status')}, "
                                   f"exit {state.get('ExitCode')}): {state.get('Error') or 'see docker logs'}")
            time.sleep(0.05)

    def _teardown_quietly(self) -> None:
        try:
            if self._container is not None:
                self._container.remove(force=True)
        except Exception:  # noqa: BLE001 - never hide the original failure
            pass
        self._container = None
        owner.unregister(self)
        self._closed = True

    def close(self) -> None:
        """Remove the container (force). Safe to call twice, and from signal handlers."""
        if self._closed:
            return
        self._closed = True
        owner.unregister(self)
        if self._container is not None:
            from docker.errors import NotFound

            try:
                self._container.remove(force=True, v=True)
            except NotFound:
                pass
            except Exception:  # noqa: BLE001 - the engine is away: retried when it is back
                owner.remember_unremoved(str(self._container.id), self.name)
        if self._own_client and self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001
                pass

    def _require_open(self) -> None:
        if self._closed:
            raise SandboxClosed("this sandbox was closed; create a new one")
        if self._container is None:
            raise SandboxError("sandbox not started; use `with DockerSandbox(...)` or .start()")

    # ------------------------------------------------------------------ exec

    def exec(
        self,
        cmd: list[str],
        *,
        timeout_sec: float = 60.0,
        user: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        input: bytes | None = None,
    ) -> ExecResult:
        """Run ``cmd`` inside; killed inside the container after ``timeout_sec`` (exit 124)."""
        self._require_open()
        if not cmd:
            raise ValueError("exec needs a non-empty argv")
        if input is not None:
            return self._exec_with_input(cmd, timeout_sec, user, cwd, env, input)
        wrapped = ["timeout", "-k", f"{KILL_GRACE_SEC}s", f"{timeout_sec:g}s", *cmd]
        api = self._client.api
        started = time.monotonic()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                ex = api.exec_create(
                    self._container.id, wrapped, stdout=True, stderr=True,
                    user=user or self.config.user, workdir=cwd or self.workdir,
                    environment=env or None,
                )
                out, err = exec_output(api, ex["Id"])
                box["res"] = (out, err, api.exec_inspect(ex["Id"])["ExitCode"])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["exc"] = exc

        t = threading.Thread(target=run, daemon=True, name=f"exec-{self.name}")
        t.start()
        t.join(timeout_sec + KILL_GRACE_SEC + HOST_BACKSTOP_SEC)
        if t.is_alive():
            raise SandboxError(
                f"the engine did not finish an exec in {self.name} "
                f"{HOST_BACKSTOP_SEC:g}s after its deadline; the engine may be hung"
            )
        if "exc" in box:
            with engine_errors(f"exec in {self.name} failed"):
                raise box["exc"]
        out, err, code = box["res"]
        return self._result(code, out, err, started, timeout_sec)

    def _exec_with_input(
        self, cmd: list[str], timeout_sec: float, user: str | None, cwd: str | None,
        env: dict[str, str] | None, data: bytes,
    ) -> ExecResult:
        import subprocess

        argv = self.host_argv(
            ["timeout", "-k", f"{KILL_GRACE_SEC}s", f"{timeout_sec:g}s", *cmd],
            interactive=True, user=user, cwd=cwd, env=env,
        )
        started = time.monotonic()
        try:
            p = subprocess.run(
                argv, input=data, capture_output=True, start_new_session=True,  # Ctrl-C: see relay
                timeout=timeout_sec + KILL_GRACE_SEC + HOST_BACKSTOP_SEC, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"docker exec with input in {self.name} hung past its deadline") from exc
        return self._result(p.returncode, p.stdout, p.stderr, started, timeout_sec)

    def _result(self, code: int, out: bytes, err: bytes, started: float, timeout_sec: float) -> ExecResult:
        took = time.monotonic() - started
        timed_out = code in (124, 137) and took >= timeout_sec * 0.98
        oom = False
        if code == 137 and not timed_out:
            before, now = self._oom_kills, self._oom_kill_count()
            self._oom_kills = max(before, now)
            oom = now > before
        return ExecResult(
            exit_code=code,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            timed_out=timed_out,
            oom_killed=oom,
            duration_sec=took,
        )

    def _oom_kill_count(self) -> int:
        """The container cgroup's oom_kill counter (cgroup v1 or v2); 0 when unreadable."""
        script = (
            "cat /sys/fs/cgroup/memory.events 2>/dev/null || "
            "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
        )
        api = self._client.api
        try:
            ex = api.exec_create(self._container.id, ["sh", "-c", script], user="root")
            text = exec_output(api, ex["Id"])[0].decode(errors="replace")
        except Exception:  # noqa: BLE001 - best effort classification
            return 0
        for line in text.splitlines():
            key, _, val = line.partition(" ")
            if key == "oom_kill" and val.strip().isdigit():
                return int(val)
        return 0

    def host_argv(
        self,
        cmd: list[str],
        *,
        interactive: bool = False,
        tty: bool = False,
        user: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> list[str]:
        """``docker exec`` argv for ``cmd`` (env values show in ``ps``: never pass secrets)."""
        self._require_open()
        argv = ["docker", "exec"]
        if interactive:
            argv.append("-i")
        if tty:
            argv.append("-t")
        argv += ["-u", user or self.config.user, "-w", cwd or self.workdir]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        return [*argv, self._container.id, *cmd]

    # ------------------------------------------------------------------ files

    def read_file(self, path: str) -> bytes:
        """The file's bytes. FileNotFoundError when it does not exist."""
        self._require_open()

        path = path if path.startswith("/") else f"{self.workdir}/{path}"
        with engine_errors(f"reading {path} from {self.name} failed", not_found=lambda _e: FileNotFoundError(path)):
            stream, stat = self._container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise IsADirectoryError(path) if member and member.isdir() else FileNotFoundError(path)
            fh = tar.extractfile(member)
            assert fh is not None
            return fh.read()

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644, user: str | None = None) -> None:
        """Write ``data`` to ``path`` (parents created), owned by ``user`` (default: agent)."""
        self._require_open()
        raw = data.encode() if isinstance(data, str) else data
        p = PurePosixPath(path if path.startswith("/") else f"{self.workdir}/{path}")
        uid, gid = _USER_IDS.get(user or self.config.user, (1000, 1000))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(p.name)
            info.size, info.mode, info.uid, info.gid = len(raw), mode, uid, gid
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(raw))
        self._put(str(p.parent), buf.getvalue(), uid, gid)

    def _put(self, dest_dir: str, archive: bytes, uid: int, gid: int) -> None:
        from docker.errors import NotFound

        with engine_errors(f"copy into {self.name}:{dest_dir} failed"):
            try:
                ok = self._container.put_archive(dest_dir, archive)
            except NotFound:
                r = self.exec(["mkdir", "-p", dest_dir], user="root", timeout_sec=30)
                if not r.ok:
                    raise SandboxError(f"cannot create {dest_dir} in {self.name}: {r.describe()}") from None
                self.exec(["chown", f"{uid}:{gid}", dest_dir], user="root", timeout_sec=30)
                ok = self._container.put_archive(dest_dir, archive)
        if not ok:
            raise SandboxError(f"the engine refused the copy into {self.name}:{dest_dir}")

    def write_files(self, files: dict[str, tuple[bytes | str, int, str]], *, roots: tuple[str, ...] = ()) -> None:
        """Many files in one engine call: ``{abs_path: (data, mode, user)}``.

        Missing parent directories are created owned by the file's user, down from the
        nearest of ``roots`` (existing directories whose ownership must not change).
        Why: each engine call costs tens of milliseconds; a trial writes a dozen files.
        """
        self._require_open()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            _add_files(tar, files, roots)
        self._put_root(buf.getvalue(), f"writing {len(files)} files into {self.name}")

    def _put_root(self, archive: bytes, what: str) -> None:
        """Extract ``archive`` at "/" in one engine call; ``what`` names it in errors."""
        with engine_errors(f"{what} failed"):
            ok = self._container.put_archive("/", archive)
        if not ok:
            raise SandboxError(f"the engine refused {what}")

    def copy_in(self, src: Path, dest: str, *, user: str | None = None,
                files: dict[str, tuple[bytes | str, int, str]] | None = None, roots: tuple[str, ...] = ()) -> None:
        """Copy a host file or directory to ``dest`` (a directory's *contents* land in dest).

        ``files`` (as for ``write_files``) travel in the same engine call; then ``dest`` is
        created when missing and owned by ``user`` either way."""
        self._require_open()
        src = Path(src)
        if not src.exists():
            raise FileNotFoundError(str(src))
        uid, gid = _USER_IDS.get(user or self.config.user, (1000, 1000))

        def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            return info

        rooted = files is not None  # one archive extracted at "/": paths carry ``dest``
        if rooted and not src.is_dir():
            raise ValueError("copy_in(files=...) copies a directory")
        prefix = dest.strip("/") + "/" if rooted else ""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if rooted:
                top = tarfile.TarInfo(dest.strip("/"))
                top.type, top.mode, top.uid, top.gid, top.mtime = tarfile.DIRTYPE, 0o755, uid, gid, int(time.time())
                tar.addfile(top)
            if src.is_dir():
                for child in sorted(src.iterdir()):
                    tar.add(str(child), arcname=prefix + child.name, filter=owned)
                target = dest
            else:
                tar.add(str(src), arcname=PurePosixPath(dest).name, filter=owned)
                target = str(PurePosixPath(dest).parent)
            if rooted:
                _add_files(tar, files or {}, (*roots, dest))
        if rooted:
            self._put_root(buf.getvalue(), f"the copy into {self.name}:{dest}")
        else:
            self._put(target, buf.getvalue(), uid, gid)  # creates ``target`` only when missing

    def copy_out(self, src: str, dest: Path) -> None:
        """Copy ``src`` (file or directory) out of the container to host path ``dest``."""
        self._require_open()

        src = src if src.startswith("/") else f"{self.workdir}/{src}"
        with engine_errors(f"copy out of {self.name}:{src} failed", not_found=lambda _e: FileNotFoundError(src)):
            stream, _ = self._container.get_archive(src)
            data = b"".join(stream)
        dest = Path(dest)
        with tempfile.TemporaryDirectory(prefix=owner.temp_prefix("copyout")) as tmp:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(tmp, filter="data")
            produced = Path(tmp) / PurePosixPath(src).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists() and dest.is_dir() and produced.is_dir():
                shutil.copytree(produced, dest, dirs_exist_ok=True, symlinks=True)
            else:
                if dest.exists():
                    shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                shutil.move(str(produced), str(dest))

    # ------------------------------------------------------------------ info

    def labels(self) -> dict[str, str]:
        self._require_open()
        self._container.reload()
        return dict(self._container.labels)

    def probe(self, *, pids: bool = True) -> SandboxHealth:
        """The container's state as the engine sees it, without an exec (an agent that used
        up the pid limit leaves no room for one). Raises SandboxError when the engine does
        not answer: the runner then blames the machinery, not the agent. ``pids=False``
        skips the process count (the engine samples stats for ~1 s)."""
        self._require_open()
        with engine_errors(f"the engine did not answer for {self.name}"):
            self._container.reload()
            running = self._container.status == "running"
            count = limit = None
            if running and pids:
                st = self._container.stats(stream=False, one_shot=True).get("pids_stats") or {}
                count, limit = st.get("current"), st.get("limit")
        return SandboxHealth(running, count, limit or self.config.limits.pids or None)

    def is_running(self) -> bool:
        if self._closed or self._container is None:
            return False
        try:
            self._container.reload()
        except Exception:  # noqa: BLE001
            return False
        return bool(self._container.status == "running")


@dataclass(frozen=True)
class SandboxHealth:
    """What the engine says about a container: running, and its process count and limit."""

    running: bool
    pids: int | None = None
    pids_limit: int | None = None


def harness_label_filter(run_id: str | None = None) -> dict[str, list[str]]:
    f = [f"{labels.MANAGED}=true", f"{labels.KIND}=sandbox"]
    if run_id:
        f.append(f"{labels.RUN_ID}={run_id}")
    return {"label": f}


def default_user_env() -> dict[str, str]:
    """Env safe to hand every sandbox: no secrets, just a sane terminal."""
    return {"TERM": os.environ.get("HARNESS_TERM", "xterm-256color")}


def _add_files(tar: tarfile.TarFile, files: dict[str, tuple[bytes | str, int, str]], roots: tuple[str, ...]) -> None:
    """Add ``{abs_path: (data, mode, user)}`` to ``tar`` (extracted at "/"), with entries for
    missing parent directories owned by the file's user, down from the nearest of ``roots``."""
    keep = {"/", *roots}
    dirs: set[str] = set()
    now = int(time.time())
    for path in sorted(files):
        if not path.startswith("/"):
            raise ValueError(f"write_files needs absolute paths, got {path!r}")
        uid, gid = _USER_IDS.get(files[path][2], (1000, 1000))
        parent = PurePosixPath(path).parent
        chain = []
        while str(parent) not in keep and str(parent) != "/":
            chain.append(str(parent))
            parent = parent.parent
        for d in reversed(chain):
            if d not in dirs:
                dirs.add(d)
                info = tarfile.TarInfo(d.lstrip("/"))
                info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, uid, gid, now
                tar.addfile(info)
    for path, (data, mode, user) in sorted(files.items()):
        raw = data.encode() if isinstance(data, str) else data
        uid, gid = _USER_IDS.get(user, (1000, 1000))
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.uid, info.gid, info.mtime = len(raw), mode, uid, gid, now
        tar.addfile(info, io.BytesIO(raw))
