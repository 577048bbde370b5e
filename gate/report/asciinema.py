"""asciinema-player, the terminal player the field uses, fetched once and inlined into pages.

Why not a CDN link or a vendored copy: a player page must open offline (file://, a CI
artifact, a mail attachment), and the repository should not carry a 230 kB minified bundle.
So ``scripts/setup.sh`` runs ``python -m gate.report.install_player``, which asks npm (the
ordinary client, so the user's registry and proxy settings apply) for the pinned release,
checks its integrity against the hash pinned here, and keeps the standalone bundle's JS and
CSS under ``.cache/asciinema-player/<version>/`` (ignored by git). ``player.py`` inlines both
into every player.html; when they are missing it falls back to the built-in player.js and
the page says so.

Layout of the cache (a version folder appears whole or not at all: it is renamed into place)::

    .cache/asciinema-player/
    └── 3.18.0/
        ├── asciinema-player.min.js   the standalone bundle (IIFE, WASM inlined)
        ├── asciinema-player.css
        └── LICENSE                   Apache-2.0, kept beside the code it covers
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import GateError

NAME = "asciinema-player"
VERSION = "3.18.0"
#: the registry's ``dist.integrity`` of the pinned tarball; a different file is refused
INTEGRITY = "sha512-5gpt2ipFcy4NKmgkv+c/QXnJ9zMicxqWROCOuJqgwwtiYKM8Qe9hnDOvfqke5bW6M2DW/seO3uQYkQ0xeUUVtw=="
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO_ROOT / ".cache" / NAME
NPM_TIMEOUT_SEC = 240.0

JS_FILE = "asciinema-player.min.js"
CSS_FILE = "asciinema-player.css"
#: what is kept from the tarball, and where it lives inside it
MEMBERS = {
    JS_FILE: f"package/dist/bundle/{JS_FILE}",
    CSS_FILE: f"package/dist/bundle/{CSS_FILE}",
    "LICENSE": "package/LICENSE",
}


@dataclass(frozen=True)
class PlayerAssets:
    """The bundle's text, ready to inline into a page."""

    version: str
    js: str
    css: str

    @property
    def label(self) -> str:
        return f"{NAME} {self.version}"


def find_assets(cache_root: Path = CACHE_ROOT) -> PlayerAssets | None:
    """The installed pinned release, or None when setup has not (or could not) fetch it."""
    folder = cache_root / VERSION
    try:
        js = (folder / JS_FILE).read_text(encoding="utf-8")
        css = (folder / CSS_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    # Inlined text must not close its own element early; a bundle that would is not used.
    if not js.strip() or "</script" in js.lower() or "</style" in css.lower():
        return None
    return PlayerAssets(VERSION, js, css)


def integrity_of(data: bytes) -> str:
    """npm's Subresource-Integrity string (sha512) of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def npm_pack(npm: str, dest: Path, *, timeout_sec: float = NPM_TIMEOUT_SEC) -> Path:
    """Download the pinned tarball into ``dest`` with ``npm pack``; returns its path."""
    argv = [npm, "pack", f"{NAME}@{VERSION}", "--pack-destination", str(dest), "--json"]
    env = {  # quiet, and quick to give up offline; the user's own npm settings still win
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "error",
        "npm_config_fetch_retries": "1",
        "npm_config_fetch_timeout": "60000",
        **os.environ,
    }
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_sec, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise GateError(
            f"{npm} was not found", hint="install Node.js with npm, then run setup again"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise GateError(
            f"npm pack {NAME}@{VERSION} gave no answer in {timeout_sec:.0f} s",
            hint="check the npm registry settings and the network",
        ) from exc
    if proc.returncode != 0:
        raise GateError(f"npm pack {NAME}@{VERSION} failed: {_npm_error(proc)}")
    try:
        filename = json.loads(proc.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError) as exc:
        raise GateError(f"npm pack {NAME}@{VERSION} printed no file name") from exc
    tgz = dest / Path(str(filename)).name
    if not tgz.is_file():
        raise GateError(f"npm pack {NAME}@{VERSION} wrote no {tgz.name}")
    return tgz


def _npm_error(proc: subprocess.CompletedProcess[str]) -> str:
    """npm's own one-line account of a failure: the ``--json`` error's code and summary,
    else the first line of its stderr."""
    try:
        err = json.loads(proc.stdout)["error"]
        summary = str(err.get("summary") or err.get("detail") or "").strip().splitlines()
        return f"{err.get('code', 'error')}: {summary[0] if summary else 'no summary'}"
    except (ValueError, LookupError, TypeError, AttributeError):
        lines = proc.stderr.strip().splitlines()
        return lines[0] if lines else f"exit code {proc.returncode}"


def unpack(tgz: Path, folder: Path) -> None:
    """Check the tarball against the pinned integrity, then copy the kept files out of it
    (read member by member: nothing in the archive chooses a path on disk)."""
    data = tgz.read_bytes()
    got = integrity_of(data)
    if got != INTEGRITY:
        raise GateError(
            f"{tgz.name} does not match the pinned integrity of {NAME}@{VERSION}",
            hint=f"expected {INTEGRITY[:24]}..., got {got[:24]}...",
        )
    folder.mkdir(parents=True)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for name, member in MEMBERS.items():
                src = tar.extractfile(member)
                if src is None:
                    raise KeyError(member)
                (folder / name).write_bytes(src.read())
    except (KeyError, tarfile.TarError) as exc:
        raise GateError(f"{tgz.name} lacks {exc}; is {VERSION} the right release?") from exc


def install(
    cache_root: Path = CACHE_ROOT, *, npm: str = "npm", timeout_sec: float = NPM_TIMEOUT_SEC
) -> tuple[PlayerAssets, bool]:
    """Make sure the pinned release is in ``cache_root``; returns it and whether it was
    fetched now (False: it was already there, and npm was not asked). Idempotent; a second
    installer at once is harmless (each stages its own folder of the same checked files)."""
    found = find_assets(cache_root)
    if found is not None:
        return found, False
    cache_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache_root) as tmp:
        staged = Path(tmp) / VERSION
        unpack(npm_pack(npm, Path(tmp), timeout_sec=timeout_sec), staged)
        target = cache_root / VERSION
        if target.exists():  # a half-written folder from an older layout, or another setup
            shutil.rmtree(target, ignore_errors=True)
        try:
            staged.rename(target)
        except OSError:
            if find_assets(cache_root) is None:
                raise
    assets = find_assets(cache_root)
    if assets is None:
        raise GateError(f"{NAME} {VERSION} was fetched but cannot be read from {target}")
    return assets, True
