"""Finding, starting and talking to the Docker engine.

Why a module of its own: every entry point (setup script, ``harness doctor``, the test
session, the runner) needs the same answer to "is there an engine, and how do I reach it?".
The answer honours ``DOCKER_HOST`` / ``DOCKER_TLS_VERIFY`` / ``DOCKER_CERT_PATH`` and docker
contexts (docker-in-docker CI), and on a Debian machine where we are root and no engine
answers, installs Debian's ``docker.io`` and starts ``dockerd`` in the background with its
log in a known file. Anything else gets a one-line instruction, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import EngineError, HarnessError, SandboxError

DOCKERD_LOG = Path("/var/log/harness-dockerd.log")
DEFAULT_API_TIMEOUT_SEC = 120.0
READY_TIMEOUT_SEC = 90.0


@dataclass(frozen=True)
class EngineInfo:
    """What ``docker info`` told us; used by doctor and by tests to describe the engine."""

    endpoint: str
    server_version: str
    storage_driver: str
    cgroup_version: str
    remote: bool


def docker_endpoint() -> tuple[str, dict[str, Any]]:
    """Return (base_url, tls kwargs) from the env, else the current docker context.

    ``docker.from_env`` reads only the env vars; people who run ``docker context use`` expect
    the harness to follow, so the context is consulted when ``DOCKER_HOST`` is unset.
    """
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host, {}
    try:
        from docker.context import ContextAPI

        ctx = ContextAPI.get_current_context()
        if ctx is not None and ctx.name != "default" and ctx.Host:
            tls = ctx.TLSConfig
            return ctx.Host, ({"tls": tls} if tls else {})
    except Exception:  # noqa: BLE001 - a broken context file falls back to the default socket
        pass
    return "unix:///var/run/docker.sock", {}


def is_remote_engine() -> bool:
    """True when the engine is not on this host's unix socket (paths are not shared)."""
    url, _ = docker_endpoint()
    return not url.startswith("unix://") and not url.startswith("npipe://")


#: The API version each endpoint negotiated, so later clients skip the ``GET /version``
#: that docker-py makes whenever it is not told one (a sandbox opens a client of its own).
_API_VERSIONS: dict[str, str] = {}


def client(timeout_sec: float = DEFAULT_API_TIMEOUT_SEC) -> Any:
    """A docker SDK client for the configured engine, or EngineError with the fix.

    Why the two shortcuts: a run opens a client per sandbox and makes dozens of calls per
    trial. The first client of an endpoint negotiates its API version and later ones reuse
    it (the ping still proves the engine answers). On a unix socket the client also stops
    reading proxy settings from the environment for every request (requests' ``trust_env``
    scans the whole environment each time; no proxy applies to a local socket): measured
    here, a call about 1.4 -> 1.0 ms of CPU and a new client 4-6 -> 2 ms."""
    import docker

    url, extra = docker_endpoint()
    with engine_errors(f"cannot reach the Docker engine at {url}", error=EngineError, hint=fix_hint()):
        version = _API_VERSIONS.get(url)
        kw: dict[str, Any] = {"version": version} if version else {}
        if os.environ.get("DOCKER_HOST"):
            c = docker.from_env(timeout=int(timeout_sec), **kw)
        else:
            c = docker.DockerClient(base_url=url, timeout=int(timeout_sec), **extra, **kw)
        if url.startswith("unix://"):
            c.api.trust_env = False
        c.ping()
        _API_VERSIONS.setdefault(url, c.api.api_version)
        return c
    raise AssertionError("unreachable")  # for type checkers: the block returns or raises


def foreign_errors() -> tuple[type[BaseException], ...]:
    """What the docker SDK raises when the engine fails: its own errors and its HTTP
    transport's (a refused or reset socket reaches us as a requests error)."""
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    return (DockerException, RequestException)


@contextmanager
def engine_errors(what: str, *, error: type[HarnessError] = SandboxError, hint: str | None = None,
                  not_found: Callable[[BaseException], BaseException] | None = None) -> Iterator[None]:
    """The one place an engine's foreign errors become the harness's (httpx's
    ``map_httpcore_exceptions``): inside, a docker SDK or HTTP error is raised again as
    ``error(f"{what}: {detail}")`` from the original, so callers catch one tree and the CLI
    prints one line. ``not_found`` turns the engine's 404 (no such container, image or
    path) into what the caller promises instead (``FileNotFoundError``, ``ImageError``).
    Anything else, the harness's own errors included, passes through untouched."""
    try:
        yield
    except HarnessError:
        raise
    except BaseException as exc:
        if not isinstance(exc, foreign_errors()):
            raise
        from docker.errors import NotFound

        if not_found is not None and isinstance(exc, NotFound):
            raise not_found(exc) from exc
        raise error(f"{what}: {_short(exc)}", hint=hint) from exc


def fix_hint() -> str:
    """The one-line instruction for a machine with no reachable engine."""
    if os.environ.get("DOCKER_HOST"):
        return f"check that the daemon at DOCKER_HOST={os.environ['DOCKER_HOST']} is up"
    if os.geteuid() == 0:
        return "run `harness doctor --fix` to install and start Debian's docker.io"
    return "start Docker (e.g. `sudo systemctl start docker`) or run `sudo harness doctor --fix`"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def docker_info_ok(timeout_sec: float = 10.0) -> bool:
    """True when the docker CLI can talk to an engine (used before the SDK is importable)."""
    if shutil.which("docker") is None:
        return False
    try:
        r = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=timeout_sec,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0 and bool(r.stdout.strip())


def _apt_install(packages: list[str], log: Path) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with log.open("ab") as fh:
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", *packages],
        ):
            try:
                r = subprocess.run(argv, stdout=fh, stderr=fh, env=env, timeout=900, check=False)
            except subprocess.TimeoutExpired as exc:
                raise EngineError(f"`{' '.join(argv)}` timed out", hint=f"see {log}") from exc
            if r.returncode != 0:
                raise EngineError(
                    f"`{' '.join(argv)}` failed with exit {r.returncode}", hint=f"see {log}"
                )


def ensure_engine(*, install: bool = True, say: Any = print) -> EngineInfo:
    """Make sure an engine answers; install and start one when we may. Idempotent.

    Bounded: dockerd must answer within READY_TIMEOUT_SEC or we say where its log is.
    """
    if docker_info_ok():
        return engine_info()
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(
            f"the Docker engine at DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer",
            hint="start that daemon or unset DOCKER_HOST",
        )
    if os.geteuid() != 0 or not install:
        raise EngineError("no Docker engine is running", hint=fix_hint())
    if not Path("/etc/debian_version").exists():
        raise EngineError(
            "no Docker engine is running and this is not Debian",
            hint="install and start Docker with your distribution's packages",
        )
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        say("Installing Debian's docker.io (no Docker engine found) ...")
        _apt_install(["docker.io"], DOCKERD_LOG.with_suffix(".apt.log"))
    start_dockerd(say=say)
    return engine_info()


def start_dockerd(*, say: Any = print) -> None:
    """Start dockerd detached from us (its own session), log to DOCKERD_LOG, wait for it."""
    say(f"Starting dockerd (log: {DOCKERD_LOG}) ...")
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(
            ["dockerd"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT_SEC
    while time.monotonic() < deadline:
        if docker_info_ok(timeout_sec=5):
            return
        time.sleep(0.5)
    tail = ""
    try:
        tail = DOCKERD_LOG.read_text(errors="replace").strip().splitlines()[-1][:200]
    except OSError:
        pass
    raise EngineError(
        f"dockerd did not answer within {READY_TIMEOUT_SEC:g}s (last log line: {tail})",
        hint=f"see {DOCKERD_LOG}",
    )


def engine_info() -> EngineInfo:
    """Describe the engine we reach (through the SDK, so contexts and TLS apply)."""
    c = client(timeout_sec=30)
    try:
        info = c.info()
    finally:
        c.close()
    url, _ = docker_endpoint()
    return EngineInfo(
        endpoint=url,
        server_version=str(info.get("ServerVersion", "?")),
        storage_driver=str(info.get("Driver", "?")),
        cgroup_version=str(info.get("CgroupVersion", "?")),
        remote=is_remote_engine(),
    )
