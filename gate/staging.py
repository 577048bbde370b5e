"""Stage, adopt and roll back an accepted candidate's skill files.

Like SkillOpt-Sleep, nothing touches the live files at decision time. ``stage`` copies the
candidate into a staging folder with a manifest that pins the SHA-256 of every live file it
would replace; ``adopt`` refuses when any of those live files changed since (someone edited
the skill by hand meanwhile), backs them up, then applies; ``rollback`` restores the backup
and refuses when the live files are no longer the ones adopt wrote.

::

    <stage_dir>/
      manifest.json     run id, candidate, live root, per file: live + candidate SHA-256
      files/<rel>       the candidate's files
      backup/<rel>      live files as they were just before adopt
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import GateError

MANIFEST = "manifest.json"


class StagedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    live_sha256: str | None  # None: the file does not exist live (adopt creates it)
    candidate_sha256: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["harness.gate.stage.v1"] = "harness.gate.stage.v1"
    run_id: str
    candidate: str
    live_root: str
    staged_at: datetime
    state: Literal["staged", "adopted", "rolled_back"] = "staged"
    adopted_at: datetime | None = None
    files: list[StagedFile]


def sha256_file(path: Path) -> str | None:
    """Hash of a file's bytes, or None when it does not exist."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_rel(rel: str) -> str:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise GateError(f"unsafe skill file path {rel!r}: must be relative, without '..'")
    return p.as_posix()


def candidate_files(candidate_dir: Path) -> dict[str, Path]:
    """Every regular file under ``candidate_dir`` by relative POSIX path."""
    if not candidate_dir.is_dir():
        raise GateError(f"candidate directory {candidate_dir} does not exist")
    return {
        p.relative_to(candidate_dir).as_posix(): p
        for p in sorted(candidate_dir.rglob("*"))
        if p.is_file()
    }


def load_manifest(stage_dir: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((stage_dir / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"no staging manifest in {stage_dir}: {exc.strerror}") from exc
    except ValueError as exc:
        raise GateError(f"staging manifest in {stage_dir} is unreadable: {exc}") from exc


def _save(stage_dir: Path, manifest: Manifest) -> None:
    tmp = stage_dir / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(stage_dir / MANIFEST)


def stage(
    *, run_id: str, candidate: str, candidate_dir: Path, live_root: Path, stage_dir: Path
) -> Manifest:
    """Copy the candidate into ``stage_dir`` and pin the live files' hashes."""
    files = candidate_files(candidate_dir)
    if not files:
        raise GateError(f"candidate directory {candidate_dir} has no files to stage")
    if (stage_dir / MANIFEST).exists() and load_manifest(stage_dir).state == "adopted":
        raise GateError(f"{stage_dir} holds an adopted candidate; roll it back or pick a new dir")
    if (stage_dir / "files").exists():
        shutil.rmtree(stage_dir / "files")
    entries = []
    for rel, src in files.items():
        rel = _safe_rel(rel)
        dst = stage_dir / "files" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        entries.append(
            StagedFile(
                path=rel,
                live_sha256=sha256_file(live_root / rel),
                candidate_sha256=sha256_file(dst) or "",
            )
        )
    manifest = Manifest(
        run_id=run_id,
        candidate=candidate,
        live_root=str(live_root.resolve()),
        staged_at=datetime.now(UTC),
        files=entries,
    )
    _save(stage_dir, manifest)
    return manifest


def adopt(stage_dir: Path) -> Manifest:
    """Apply a staged candidate; refuses when live files drifted since staging."""
    m = load_manifest(stage_dir)
    if m.state == "adopted":
        raise GateError(f"{stage_dir} is already adopted")
    live = Path(m.live_root)
    drifted = [f.path for f in m.files if sha256_file(live / f.path) != f.live_sha256]
    if drifted:
        raise GateError(
            f"live files changed since staging: {', '.join(drifted)}",
            hint="re-run the gate and stage again against the current files",
        )
    tampered = [
        f.path for f in m.files if sha256_file(stage_dir / "files" / f.path) != f.candidate_sha256
    ]
    if tampered:
        raise GateError(f"staged files changed since staging: {', '.join(tampered)}")
    backup = stage_dir / "backup"
    if backup.exists():
        shutil.rmtree(backup)
    for f in m.files:
        if f.live_sha256 is not None:
            (backup / f.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(live / f.path, backup / f.path)
    for f in m.files:
        _atomic_copy(stage_dir / "files" / f.path, live / f.path)
    m.state, m.adopted_at = "adopted", datetime.now(UTC)
    _save(stage_dir, m)
    return m


def rollback(stage_dir: Path, *, force: bool = False) -> Manifest:
    """Restore the live files adopt replaced, and remove the ones it created."""
    m = load_manifest(stage_dir)
    if m.state != "adopted":
        raise GateError(f"{stage_dir} is {m.state}, not adopted: nothing to roll back")
    live = Path(m.live_root)
    changed = [f.path for f in m.files if sha256_file(live / f.path) != f.candidate_sha256]
    if changed and not force:
        raise GateError(
            f"live files changed since adopt: {', '.join(changed)}",
            hint="pass --force to restore the backup anyway",
        )
    for f in m.files:
        if f.live_sha256 is None:
            (live / f.path).unlink(missing_ok=True)
        else:
            _atomic_copy(stage_dir / "backup" / f.path, live / f.path)
    m.state = "rolled_back"
    _save(stage_dir, m)
    return m


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.harness-tmp")
    shutil.copy2(src, tmp)
    tmp.replace(dst)
