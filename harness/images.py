"""Building the harness's images, and bootstrapping their Debian base without a registry.

Why content-hash tags: a CI run (and a nightly replay) must build each image once and then
reuse it. The hash covers the build context (Dockerfile and files), the build args (CLI
versions), the extra CA bundle and the parent image's hash, so any change rebuilds exactly
what it affects. Each image gets ``harness/<name>:<hash12>`` plus the stable
``harness/<name>:latest``.

Why bootstrap: on air-gapped machines (and this project's CI machines) ``FROM debian:...``
cannot be pulled. ``bootstrap_debian`` builds that exact tag from the host's configured apt
mirror with ``debootstrap --variant=minbase`` and ``docker import``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.sandbox import owner
from harness import labels
from harness.errors import ConfigError, ImageError

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES_DIR = Path(os.environ.get("HARNESS_IMAGES_DIR", REPO_ROOT / "images"))
DEBIAN_TAG = "debian:bookworm-slim"
DEBIAN_SUITE = "bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_ENV = "HARNESS_EXTRA_CA_BUNDLE"
BUILD_TIMEOUT_SEC = 1800

#: the Ray version every node of a cluster runs (issue 16: the same on every node)
RAY_VERSION = "2.60.0"


def runtime_dependencies() -> list[str]:
    """The harness's ``[project] dependencies``: from pyproject.toml in a source tree, else
    from the installed distribution's metadata (its requirements without an extra)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        data = tomllib.loads(pyproject.read_text())
        return [str(d) for d in data.get("project", {}).get("dependencies", [])]
    from importlib import metadata

    try:
        reqs = metadata.requires("agent-replay-harness") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in reqs if "extra ==" not in r]


def ray_node_build_args() -> dict[str, str]:
    """ray-node's build args. Why args and not a copied requirements file: they key both the
    content hash and Docker's layer cache on the dependency list alone, so editing the
    harness's code (shipped to nodes at run time) never rebuilds the dependency layer."""
    deps = "|".join(d.replace(" ", "") for d in runtime_dependencies())
    return {"RAY_VERSION": RAY_VERSION, "RUNTIME_DEPS": deps}


# the harness's own images: name -> (parent image name or None, default build args)
CORE_IMAGES: dict[str, tuple[str | None, dict[str, str]]] = {
    "base": (None, {}),
    "dind": ("base", {}),
    "ray-node": ("dind", ray_node_build_args()),
}


def agent_images() -> dict[str, Any]:
    """image name -> ``ImageBuild``, as each agent's module declares it (the agent registry)."""
    from controllers.profiles import image_builds

    return dict(image_builds())


class _Images(Mapping[str, tuple[str | None, dict[str, str]]]):
    """name -> (parent, default build args): the core images, then every agent's image as its
    profile declares it. A view, read on each access, so a newly registered agent is planned."""

    def _all(self) -> dict[str, tuple[str | None, dict[str, str]]]:
        agents = {n: (b.parent, dict(b.build_args)) for n, b in agent_images().items()}
        return {**CORE_IMAGES, **agents}

    def __getitem__(self, name: str) -> tuple[str | None, dict[str, str]]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


IMAGES: Mapping[str, tuple[str | None, dict[str, str]]] = _Images()


def context_dir(name: str) -> Path:
    """The folder holding ``name``'s Dockerfile: the agent's own when its profile names one,
    else ``images/<name>`` (or ``$HARNESS_IMAGES_DIR/<name>``)."""
    build = agent_images().get(name)
    ctx = getattr(build, "context", None)
    return Path(ctx) if ctx is not None else IMAGES_DIR / name

Say = Callable[[str], None]


def repo_tag(name: str) -> str:
    return f"harness/{name}"


def latest_tag(name: str) -> str:
    return f"{repo_tag(name)}:latest"


def resolve_ca_bundle(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The extra CA bundle to bake in, one rule for every caller (it feeds the content hash).

    Order: the ``--ca-bundle`` option, then ``$HARNESS_EXTRA_CA_BUNDLE``, then the host's
    ``/etc/ssl/certs/ca-certificates.crt`` when it exists (so containers trust what the host
    trusts, as corporate proxies need). ``none`` in either place turns it off.
    """
    raw = explicit if explicit is not None else os.environ.get(CA_ENV)
    if raw is not None and str(raw).strip().lower() == "none":
        return None
    if raw in (None, ""):
        return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    path = Path(str(raw)).expanduser()
    if not path.is_file():
        raise ConfigError(f"extra CA bundle {path} does not exist", hint=f"fix --ca-bundle / {CA_ENV}")
    text = path.read_text(errors="replace")
    if "BEGIN CERTIFICATE" not in text:
        raise ConfigError(f"extra CA bundle {path} holds no PEM certificate")
    return path


@dataclass
class BuildPlan:
    """Everything that determines one image; its hash is the reuse key."""

    name: str
    context_dir: Path
    build_args: dict[str, str]
    ca_bundle: Path | None
    parent_hash: str | None
    files: dict[str, bytes] = field(default_factory=dict)

    def content_hash(self) -> str:
        h = hashlib.sha256()
        h.update(f"image:{self.name}\n".encode())
        h.update(f"parent:{self.parent_hash or DEBIAN_TAG}\n".encode())
        for k in sorted(self.build_args):
            h.update(f"arg:{k}={self.build_args[k]}\n".encode())
        for rel in sorted(self.files):
            h.update(f"file:{rel}\n".encode())
            h.update(hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()

    @property
    def hash_tag(self) -> str:
        return f"{repo_tag(self.name)}:{self.content_hash()[:12]}"


def plan(name: str, *, ca_bundle: Path | None, build_args: dict[str, str] | None = None) -> BuildPlan:
    table = dict(IMAGES)
    if name not in table:
        raise ConfigError(f"unknown image {name!r}", hint=f"known: {', '.join(table)}")
    parent, defaults = table[name]
    ctx = context_dir(name)
    if not (ctx / "Dockerfile").is_file():
        raise ImageError(f"{ctx}/Dockerfile is missing")
    files: dict[str, bytes] = {}
    for p in sorted(ctx.rglob("*")):
        if p.is_file():
            files[str(p.relative_to(ctx))] = p.read_bytes()
    files["extra-ca.crt"] = ca_bundle.read_bytes() if ca_bundle else b""
    args = dict(defaults)
    args.update(build_args or {})
    parent_hash = None
    if parent:
        parent_plan = plan(parent, ca_bundle=ca_bundle)
        parent_hash = parent_plan.content_hash()
        args["BASE_IMAGE"] = parent_plan.hash_tag
    return BuildPlan(name, ctx, args, ca_bundle, parent_hash, files)


def image_exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


_RESOLVE: Any = object()  # sentinel: "use resolve_ca_bundle()", so every caller hashes alike


def build(
    client: Any,
    name: str,
    *,
    ca_bundle: Path | None = _RESOLVE,
    build_args: dict[str, str] | None = None,
    force: bool = False,
    say: Say = print,
) -> str:
    """Build ``name`` (and its parents) unless an image with the same content hash exists.

    Returns the hash tag. Progress lines go to ``say`` as the engine reports them.
    ``ca_bundle`` defaults to ``resolve_ca_bundle()``; pass None for none at all.
    """
    if ca_bundle is _RESOLVE:
        ca_bundle = resolve_ca_bundle()
    p = plan(name, ca_bundle=ca_bundle, build_args=build_args)
    parent = IMAGES[name][0]
    if parent:
        build(client, parent, ca_bundle=ca_bundle, force=False, say=say)
    elif not image_exists(client, DEBIAN_TAG):
        raise ImageError(
            f"the base layer {DEBIAN_TAG} is not in the engine and no registry can be assumed",
            hint="run `harness images bootstrap` (builds it from the host's apt mirror)",
        )
    tag = p.hash_tag
    if not force and image_exists(client, tag):
        client.images.get(tag).tag(repo_tag(name), "latest")
        say(f"image {name}: up to date ({tag})")
        return tag
    say(f"image {name}: building {tag} ...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=owner.temp_prefix("build")) as tmp:
        for rel, data in p.files.items():
            dest = Path(tmp) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        _stream_build(client, tmp, tag, p, say)
    client.images.get(tag).tag(repo_tag(name), "latest")
    say(f"image {name}: built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _stream_build(client: Any, ctx: str, tag: str, p: BuildPlan, say: Say,
                  dockerfile: str = "Dockerfile") -> None:
    from harness.engine import engine_errors

    api = client.api
    old_timeout = api.timeout
    api.timeout = BUILD_TIMEOUT_SEC
    last_lines: list[str] = []
    try:
        with engine_errors(f"building {p.name} failed", error=ImageError):
            stream = api.build(
                path=ctx,
                dockerfile=dockerfile,
                tag=tag,
                buildargs=p.build_args,
                labels={
                    labels.MANAGED: "true",
                    labels.KIND: "image",
                    labels.IMAGE_NAME: p.name,
                    labels.CONTENT_HASH: p.content_hash(),
                },
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = chunk.get("error", "").strip()
                    tail = " | ".join(last_lines[-3:])
                    raise ImageError(f"building {p.name} failed: {detail}", hint=f"last output: {tail}")
                line = str(chunk.get("stream", "")).rstrip()
                if line:
                    last_lines.append(line)
                    if line.startswith("Step ") or os.environ.get("HARNESS_VERBOSE_BUILD"):
                        say(f"  {p.name}: {line}")
    finally:
        api.timeout = old_timeout


def ensure_image(client: Any, name: str, *, build_missing: bool = True, say: Say = print) -> str:
    """The tag to run for ``name``: its current content-hash tag, built when allowed."""
    ca = resolve_ca_bundle()
    p = plan(name, ca_bundle=ca)
    if image_exists(client, p.hash_tag):
        return p.hash_tag
    if not build_missing:
        raise ImageError(
            f"image {p.hash_tag} is not built", hint=f"run `harness images build {name}`"
        )
    return build(client, name, ca_bundle=ca, say=say)


# ---------------------------------------------------------------- bootstrap (air-gapped)


_DEB_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")


def host_apt_mirror(root: Path = Path("/etc/apt")) -> str:
    """The Debian mirror the host's apt uses (one-line or deb822 sources), for debootstrap."""
    candidates: list[str] = []
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for ln in stanza.splitlines():
                    key, sep, value = ln.partition(":")
                    if sep and not ln.lstrip().startswith("#"):
                        fields[key.strip().lower()] = value.strip()
                suites = fields.get("suites", "").split()
                for uri in fields.get("uris", "").split():
                    if any(s == DEBIAN_SUITE for s in suites):
                        candidates.append(uri)
        else:
            for ln in text.splitlines():
                m = _DEB_LINE.match(ln)
                if m and m.group(2) == DEBIAN_SUITE:
                    candidates.append(m.group(1))
    for uri in candidates:
        if "security" not in uri:
            return uri.rstrip("/")
    raise ImageError(
        "no Debian bookworm mirror found in /etc/apt sources",
        hint="pass --mirror http://<your-debian-mirror>/debian",
    )


def bootstrap_debian(
    *, mirror: str | None = None, tag: str = DEBIAN_TAG, force: bool = False, say: Say = print
) -> str:
    """debootstrap a minbase bookworm from ``mirror`` and ``docker import`` it as ``tag``."""
    from harness import engine

    c = engine.client()
    try:
        if not force and image_exists(c, tag):
            say(f"{tag}: already present")
            return tag
    finally:
        c.close()
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root", hint="run `sudo harness images bootstrap`")
    if shutil.which("debootstrap") is None:
        say("Installing debootstrap ...")
        engine._apt_install(["debootstrap"], Path("/var/log/harness-debootstrap.apt.log"))
    mirror = mirror or host_apt_mirror()
    log = Path("/var/log/harness-debootstrap.log")
    say(f"{tag}: debootstrap --variant=minbase {DEBIAN_SUITE} from {mirror} (about a minute; log {log})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-debootstrap-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        with log.open("ab") as fh:
            try:
                r = subprocess.run(
                    ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), mirror],
                    stdout=fh, stderr=fh, timeout=900, check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ImageError("debootstrap timed out after 900s", hint=f"see {log}") from exc
        if r.returncode != 0:
            raise ImageError(f"debootstrap failed (exit {r.returncode})", hint=f"see {log}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        say(f"{tag}: importing into the engine ...")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            imp = subprocess.run(
                ["docker", "import", "--change", 'CMD ["bash"]', "-", tag],
                stdin=tar.stdout, capture_output=True, timeout=600, check=False,
            )
        finally:
            if tar.stdout:
                tar.stdout.close()
            tar.wait(timeout=60)
        if imp.returncode != 0:
            raise ImageError(f"docker import failed: {imp.stderr.decode(errors='replace').strip()}")
    say(f"{tag}: ready in {time.monotonic() - started:.0f}s")
    return tag


# ---------------------------------------------------------------- task images


_FROM = re.compile(r"^(\s*FROM\s+)(?:--\S+\s+)*(\S+)(\s+AS\s+(\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_WORKDIR = re.compile(r"^\s*WORKDIR\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def rewrite_task_dockerfile(text: str, base: str) -> tuple[str, str]:
    """A task's Dockerfile on top of the agent image ``base``: (new text, its workdir).

    Every ``FROM`` that is not an earlier build stage becomes ``FROM <base>`` (the base-image
    override: the task's registry image cannot be pulled here, and the agent CLI must be in
    the image), followed by ``USER root`` so the task's own steps run as they were written;
    at the end the workdir is handed to the ``agent`` user, who runs the CLI.
    """
    stages: set[str] = set()
    out: list[str] = []
    for line in text.splitlines():
        m = _FROM.match(line)
        if m:
            image, alias = m.group(2), m.group(4)
            if image.lower() not in stages:
                line = f"FROM {base}" + (f" AS {alias}" if alias else "")
                out += [line, "USER root"]
            else:
                out.append(line)
            if alias:
                stages.add(alias.lower())
            continue
        out.append(line)
    workdirs = _WORKDIR.findall(text)
    workdir = workdirs[-1] if workdirs and workdirs[-1].startswith("/") else "/workspace"
    out += [
        "",
        "# added by the harness: the agent user owns the task's workdir and runs the CLI",
        "USER root",
        f"RUN mkdir -p {workdir} && chown -R agent:agent {workdir}",
        f"WORKDIR {workdir}",
        "USER agent",
    ]
    return "\n".join(out) + "\n", workdir


def build_task_image(client: Any, task_id: str, dockerfile: Path, context: Path, base: str,
                     *, say: Say = print) -> tuple[str, str]:
    """Build (or reuse by content hash) a task's image on top of ``base``: (tag, workdir)."""
    text, workdir = rewrite_task_dockerfile(dockerfile.read_text(errors="replace"), base)
    files: dict[str, bytes] = {}
    for p in sorted(context.rglob("*")):
        if p.is_file() and ".git" not in p.parts:
            files[str(p.relative_to(context))] = p.read_bytes()
    h = hashlib.sha256(f"task:{task_id}\nbase:{base}\n{text}".encode())
    for rel in sorted(files):
        h.update(rel.encode() + hashlib.sha256(files[rel]).digest())
    safe = re.sub(r"[^a-z0-9._-]+", "-", task_id.lower()).strip("-.")[:60] or "task"
    tag = f"harness/task-{safe}:{h.hexdigest()[:12]}"
    if image_exists(client, tag):
        return tag, workdir
    say(f"image task-{safe}: building {tag} on {base} ...")
    with tempfile.TemporaryDirectory(prefix=owner.temp_prefix("task-build")) as tmp:
        for rel, data in files.items():
            dest = Path(tmp) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (Path(tmp) / "Dockerfile.harness").write_text(text)
        plan = BuildPlan(f"task-{safe}", context, {}, None, None, files)
        _stream_build(client, tmp, tag, plan, say, dockerfile="Dockerfile.harness")
    return tag, workdir
