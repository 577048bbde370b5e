"""A Sandbox that is just a local directory: for debugging an agent session without Docker.

No isolation at all (the agent runs as you, with your network): it exists so a person can
watch the same controller / snapshot / check code run on their own machine, and so the
conformance suite can prove both sandboxes behave alike. Relative paths are taken against
``workdir``; absolute paths are used as they are, unless ``root`` is given: then the files
the harness writes at absolute places outside ``workdir`` (tool shims, the hook, the agent's
home) land under ``root`` instead of on this machine's own ``/`` (commands still see ``/``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from controllers.sandbox import owner
from controllers.sandbox.base import ExecResult
from harness.errors import SandboxClosed, SandboxError


class LocalSandbox:
    """Commands run in ``workdir`` (a temp dir it owns, unless you pass one to keep)."""

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, keep: bool = False,
                 root: str | os.PathLike[str] | None = None) -> None:
        self._owns_dir = workdir is None
        self._keep = keep
        made = None if workdir else tempfile.mkdtemp(prefix=owner.temp_prefix("local"))
        self.workdir = str(Path(workdir or made or ""))
        Path(self.workdir).mkdir(parents=True, exist_ok=True)
        self.root = str(root) if root is not None else None
        self._closed = False
        owner.register(self)

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        owner.unregister(self)
        if self._owns_dir and not self._keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _require_open(self) -> None:
        if self._closed:
            raise SandboxClosed("this sandbox was closed; create a new one")

    def _path(self, path: str) -> Path:
        p = Path(path)
        if not p.is_absolute():
            return Path(self.workdir) / p
        if self.root is None or any(p.is_relative_to(d) for d in (self.workdir, self.root)):
            return p
        return Path(self.root) / p.relative_to("/")

    def host_path(self, path: str) -> str:
        """Where ``path`` is on this machine (under ``root`` for the harness's own files)."""
        return str(self._path(path))

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
        """Run in a new process group; on timeout the whole group is killed (exit 124)."""
        self._require_open()
        del user  # a local sandbox runs as the current user
        full_env = dict(os.environ)
        full_env.update(env or {})
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd, cwd=cwd or self.workdir, env=full_env, start_new_session=True,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            return ExecResult(127, "", f"{cmd[0]}: command not found", duration_sec=0.0)
        except OSError as exc:
            raise SandboxError(f"cannot run {cmd[0]}: {exc}") from exc
        try:
            out, err = proc.communicate(input=input, timeout=timeout_sec)
            code, timed_out = proc.returncode, False
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate(timeout=10)
            code, timed_out = 124, True
        if code < 0:
            code = 128 - code
        return ExecResult(
            code, out.decode(errors="replace"), err.decode(errors="replace"),
            timed_out=timed_out, duration_sec=time.monotonic() - started,
        )

    def read_file(self, path: str) -> bytes:
        self._require_open()
        return self._path(path).read_bytes()

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644, user: str | None = None) -> None:
        self._require_open()
        p = self._path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        p.chmod(mode)

    def write_files(self, files: dict[str, tuple[bytes | str, int, str]], *, roots: tuple[str, ...] = ()) -> None:
        """Same contract as DockerSandbox.write_files (owners are ignored locally)."""
        for path, (data, mode, _user) in files.items():
            self.write_file(path, data, mode=mode)

    def copy_in(self, src: Path, dest: str, *, user: str | None = None) -> None:
        self._require_open()
        src, target = Path(src), self._path(dest)
        if src.is_dir():
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target, follow_symlinks=False)

    def copy_out(self, src: str, dest: Path) -> None:
        self._require_open()
        s = self._path(src)
        if not s.exists():
            raise FileNotFoundError(src)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, dest, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(s, dest, follow_symlinks=False)

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
        """The command itself, with env / cwd applied through ``env -C`` (no shell quoting)."""
        self._require_open()
        pre = ["env", "-C", cwd or self.workdir]
        pre += [f"{k}={v}" for k, v in (env or {}).items()]
        return [*pre, *cmd]


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.2)
