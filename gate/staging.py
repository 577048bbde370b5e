"""Stage, adopt and roll back an accepted candidate's skill files.

Like SkillOpt-Sleep, nothing touches the live files at decision time. ``stage`` maps every
candidate file onto the live skill's own layout (``gate.skill_layout``: a skill folder with
``SKILL.md`` at its root, a folder of skills, one file), copies it into a staging folder under
its live path, and pins the SHA-256 of every live file it would replace or create (``null``:
must still be absent). ``adopt`` refuses when any of those changed since (someone edited the
skill by hand, or created a file adopt would overwrite), backs them up, swaps all files in at
once (``gate.fileswap``) and reads every one back; ``rollback`` restores the backup, removes
what adopt created, and refuses when the live files are no longer the ones adopt wrote.

::

    <stage_dir>/
      manifest.json     run id, candidate, live root + layout, per file: live path, candidate
                        path, live + candidate SHA-256
      files/<live path> the candidate's files, under the paths they take in the live skill
      backup/<path>     live files as they were just before adopt
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gate import audit
from gate.fileswap import prune_dirs, swap
from gate.skill_layout import KIND_TEXT, map_files, read_layout
from harness.errors import GateError

MANIFEST = "manifest.json"


class StagedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str                 # where it goes, relative to live_root
    source: str               # where it came from, relative to the candidate
    live_sha256: str | None   # None: the file does not exist live (adopt creates it)
    candidate_sha256: str

    @property
    def action(self) -> Literal["create", "replace", "unchanged"]:
        if self.live_sha256 is None:
            return "create"
        return "unchanged" if self.live_sha256 == self.candidate_sha256 else "replace"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["harness.gate.stage.v2"] = "harness.gate.stage.v2"
    run_id: str
    candidate: str
    live: str                 # what --live named (a folder or one file), resolved
    live_root: str            # the folder every path is relative to
    layout: str               # how the live skill was read, e.g. "one skill folder"
    staged_at: datetime
    state: Literal["staged", "adopted", "rolled_back"] = "staged"
    adopted_at: datetime | None = None
    rolled_back_at: datetime | None = None
    created_dirs: list[str] = []   # folders adopt made, removed again by rollback
    files: list[StagedFile]

    def changes(self) -> list[StagedFile]:
        return [f for f in self.files if f.action != "unchanged"]


def sha256_file(path: Path) -> str | None:
    """Hash of a file's bytes, or None when it does not exist."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _live_state(path: Path) -> str | None:
    """The live file's hash; a marker that never equals a hash when something else is there."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return "not-a-regular-file"
    return sha256_file(path)


def _safe_target(root: Path, rel: str) -> str:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise GateError(f"unsafe skill file path {rel!r}: must be relative, without '..'")
    dst = root / p
    if dst.is_symlink() or not dst.resolve().is_relative_to(root):
        raise GateError(f"live path {rel} is a symlink or leads out of {root}",
                        hint="pass --live the real folder the link points into")
    if dst.exists() and not dst.is_file():
        raise GateError(f"live path {dst} is not a regular file, so the candidate's {rel} "
                        "cannot replace it", hint="move it away or pass another --live")
    return p.as_posix()


def load_manifest(stage_dir: Path) -> Manifest:
    try:
        text = (stage_dir / MANIFEST).read_text(encoding="utf-8")
    except OSError as exc:
        raise GateError(f"no staging manifest in {stage_dir}: {exc.strerror}") from exc
    if '"harness.gate.stage.v1"' in text:
        raise GateError(f"{stage_dir} was staged by an older harness that could miss the live "
                        "skill's layout", hint="run `harness stage` again")
    try:
        return Manifest.model_validate_json(text)
    except ValueError as exc:
        raise GateError(f"staging manifest in {stage_dir} is unreadable: {exc}") from exc


def _save(stage_dir: Path, manifest: Manifest) -> None:
    tmp = stage_dir / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(stage_dir / MANIFEST)


def stage(
    *, run_id: str, candidate: str, candidate_dir: Path, live_root: Path, stage_dir: Path
) -> Manifest:
    """Map the candidate onto the live skill, copy it into ``stage_dir``, pin the live hashes.

    ``candidate_dir`` and ``live_root`` may each be a folder or a single file.
    """
    if not candidate_dir.exists():
        raise GateError(f"candidate directory {candidate_dir} does not exist")
    if candidate_dir.is_dir() and not any(p.is_file() for p in candidate_dir.rglob("*")):
        raise GateError(f"candidate directory {candidate_dir} has no files to stage")
    cand = read_layout(candidate_dir, what="candidate", list_files=True)
    live = read_layout(live_root.resolve(), what="live path", list_files=False)
    mapped = map_files(cand, live, live_root)
    if not mapped:
        raise GateError(f"candidate {candidate_dir} has no files to stage")
    if (stage_dir / MANIFEST).exists() and load_manifest(stage_dir).state == "adopted":
        raise GateError(f"{stage_dir} holds an adopted candidate; roll it back or pick a new dir")
    for sub in ("files", "backup"):
        if (stage_dir / sub).exists():
            shutil.rmtree(stage_dir / sub)
    entries = []
    for m in mapped:
        rel = _safe_target(live.root, m.target)
        dst = stage_dir / "files" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(m.source_path, dst)
        entries.append(StagedFile(path=rel, source=m.source,
                                  live_sha256=_live_state(live.root / rel),
                                  candidate_sha256=sha256_file(dst) or ""))
    manifest = Manifest(
        run_id=run_id,
        candidate=candidate,
        live=str(live_root.resolve()),
        live_root=str(live.root),
        layout=KIND_TEXT[live.kind],
        staged_at=datetime.now(UTC),
        files=entries,
    )
    _save(stage_dir, manifest)
    return manifest


def _drifted(live: Path, m: Manifest) -> list[str]:
    out = []
    for f in m.files:
        now = _live_state(live / f.path)
        if now != f.live_sha256:
            out.append(f"{f.path} (appeared)" if f.live_sha256 is None else f.path)
    return out


def adopt(stage_dir: Path, *, reason: str = "", night_id: str | None = None,
          project: str | None = None) -> Manifest:
    """Apply a staged candidate; refuses when live files drifted since staging. The adopt
    lands in the audit log beside the live files (``gate.audit``), with ``reason``."""
    m = load_manifest(stage_dir)
    if m.state == "adopted":
        raise GateError(f"{stage_dir} is already adopted")
    live = Path(m.live_root)
    drifted = _drifted(live, m)
    if drifted:
        raise GateError(
            f"live files changed since staging: {', '.join(drifted)}",
            hint="re-run the gate and stage again against the current files",
        )
    files = stage_dir / "files"
    tampered = [f.path for f in m.files if sha256_file(files / f.path) != f.candidate_sha256]
    if tampered:
        raise GateError(f"staged files changed since staging: {', '.join(tampered)}")
    backup = stage_dir / "backup"
    if backup.exists():
        shutil.rmtree(backup)
    todo = m.changes()
    for f in todo:
        if f.live_sha256 is not None:
            (backup / f.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(live / f.path, backup / f.path)

    def verify() -> list[str]:
        return [f.path for f in m.files if sha256_file(live / f.path) != f.candidate_sha256]

    created = swap(live, {f.path: files / f.path for f in todo}, verify=verify)
    m.state, m.adopted_at, m.created_dirs = "adopted", datetime.now(UTC), created
    _save(stage_dir, m)
    audit.log(m, "adopt", stage_dir, reason=reason, night_id=night_id, project=project)
    return m


def rollback(stage_dir: Path, *, force: bool = False, reason: str = "",
             night_id: str | None = None, project: str | None = None) -> Manifest:
    """Restore the live files adopt replaced, and remove the ones (and folders) it created;
    the rollback lands in the audit log beside the live files, with ``reason``."""
    m = load_manifest(stage_dir)
    if m.state != "adopted":
        raise GateError(f"{stage_dir} is {m.state}, not adopted: nothing to roll back")
    live = Path(m.live_root)
    todo = m.changes()
    changed = [f.path for f in todo if _live_state(live / f.path) != f.candidate_sha256]
    if changed and not force:
        raise GateError(
            f"live files changed since adopt: {', '.join(changed)}",
            hint="pass --force to restore the backup anyway",
        )
    backup = stage_dir / "backup"
    restore = [f for f in todo if f.live_sha256 is not None]
    broken = [f.path for f in restore if sha256_file(backup / f.path) != f.live_sha256]
    if broken:
        raise GateError(f"the backup in {backup} changed since adopt: {', '.join(broken)}",
                        hint="restore those files by hand; nothing was changed")

    def verify() -> list[str]:
        return [f.path for f in todo if _live_state(live / f.path) != f.live_sha256]

    swap(live, {f.path: backup / f.path for f in restore},
         [f.path for f in todo if f.live_sha256 is None], verify=verify)
    prune_dirs(live, m.created_dirs)
    m.state, m.rolled_back_at = "rolled_back", datetime.now(UTC)
    _save(stage_dir, m)
    audit.log(m, "rollback", stage_dir, reason=reason, night_id=night_id, project=project,
              forced=force)
    return m
