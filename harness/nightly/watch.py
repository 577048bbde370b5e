"""Watch and auto-rollback: the skill a past night adopted, replayed against the one it replaced.

Why with the gate's roles swapped (the version it replaced as the candidate, the adopted one
as the baseline): the question is "would going back be an improvement by the policy", the
same question, with the same evidence rules, that let the adopted skill in. Only the latest
adoption of a project is watched, and only while the live files are still the ones adopt
wrote (a hand edit since then means the backup no longer describes "the version it
replaced"; rollback would refuse anyway). The replaced version is rebuilt from the stage
folders' backups, so nothing but ``rollback`` ever writes the live files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.staging import Manifest, load_manifest, sha256_file
from harness.nightly import layout
from harness.nightly.candidates import NightDirs
from harness.nightly.config import NightlyConfig
from harness.nightly.records import NightStore


@dataclass(frozen=True)
class Watched:
    what: str                # which adoption: "the skill adopted on NIGHT" or "... by hand (...)"
    stage_root: Path         # that night's stage folder (one sub-folder per target)
    stage_dirs: tuple[Path, ...]


def stage_dirs(stage_root: Path) -> list[Path]:
    """The per-target stage folders under a night's stage folder, in a stable order."""
    if not stage_root.is_dir():
        return []
    return sorted(p for p in stage_root.iterdir() if (p / "manifest.json").is_file())


def _live_state(dirs: list[Path]) -> tuple[bool, list[str]]:
    """Whether every stage folder is still adopted, and the live files changed since."""
    manifests = [load_manifest(d) for d in dirs]
    if not manifests or any(m.state != "adopted" for m in manifests):
        return False, []
    drifted = [f.path for m in manifests for f in m.changes()
               if sha256_file(Path(m.live_root) / f.path) != f.candidate_sha256]
    return True, drifted


def _inside(path: Path, roots: list[Path]) -> bool:
    p = path.resolve()
    return any(p == r or r in p.parents or p in r.parents for r in roots)


def _adoptions(store: NightStore, cfg: NightlyConfig, night_id: str,
               db_path: Path | None) -> list[tuple[float, str, Path, tuple[Path, ...]]]:
    """Every adoption of this project's live files, oldest first: (time, what, stage root,
    stage folders). From the nights (an ``adopt: auto`` night) and from the audit log, which
    also holds adopts made by hand (``harness adopt DIR``) that no night recorded: a skill
    that slipped past the nightly is watched like one the nightly let in."""
    out: list[tuple[float, str, Path, tuple[Path, ...]]] = []
    nights = [n for n in store.nights(str(cfg.project)) if n.night_id != night_id]
    for n in nights:
        if n.adopted:
            root = Path(n.adopted)
            out.append((n.ended_at or n.started_at, f"the skill adopted on {n.night_id}", root,
                        tuple(stage_dirs(root))))
    if db_path is not None:
        from harness.nightly.audit import entries

        targets = [(cfg.project / t).resolve() for t in cfg.targets]
        seen = {d for _, _, _, dirs in out for d in dirs}
        for e in entries(db_path):
            d = Path(e.stage_dir)
            if (e.action != "adopt" or e.night_id == night_id or d in seen
                    or not _inside(Path(e.live_root), targets)):
                continue
            seen.add(d)
            what = (f"the skill adopted on {e.night_id}" if e.night_id
                    else f"the skill adopted by hand ({e.user or 'someone'}, {e.time:%Y-%m-%d %H:%M})")
            out.append((e.time.timestamp(), what, d, (d,)))
    return sorted(out, key=lambda x: x[0])


def find_adopted(store: NightStore, cfg: NightlyConfig, night_id: str,
                 db_path: Path | None = None) -> tuple[Watched | None, str]:
    """The project's latest adoption, still live; else None and why nothing is watched."""
    adoptions = _adoptions(store, cfg, night_id, db_path)
    if not adoptions:
        return None, "no adopted skill to watch"
    _, what, root, dirs = adoptions[-1]
    adopted, drifted = _live_state(list(dirs))
    if not adopted:
        return None, f"{what} is no longer adopted ({root})"
    if drifted:
        return None, f"live files changed since {what} ({', '.join(drifted)}): not watched"
    return Watched(what, root, dirs), f"watching {what}"


def previous_variant(cfg: NightlyConfig, dirs: NightDirs, w: Watched) -> str:
    """The version the adoption replaced: the live targets with each stage backup put back
    and each file adopt created left out; returns its variant folder."""
    tree = dirs.tree("previous")
    layout.complete(cfg.project, cfg.targets, None, tree)
    for d in w.stage_dirs:
        m: Manifest = load_manifest(d)
        for f in m.changes():
            rel = (Path(m.live_root) / f.path).relative_to(cfg.project)
            dst = tree / rel
            if f.live_sha256 is None:
                dst.unlink(missing_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(d / "backup" / f.path, dst)
    return str(layout.to_variant(tree, cfg.targets, dirs.variant("previous")))


def judge(records: list[Any], policy: Any, model_mode: str) -> Any:
    """The gate on tonight's tasks: ``previous`` as the candidate, the adopted (live,
    ``baseline``) as the baseline. An accept means going back is better: roll back."""
    from gate.decision import decide

    mined = [r for r in records if r.split != "frozen"]
    return decide(mined, baseline="baseline", candidates=["previous"], policy=policy,
                  model_mode=model_mode)  # type: ignore[arg-type]


def roll_back(w: Watched, *, db_path: Path, reason: str, night_id: str,
              project: str) -> list[str]:
    """Roll every target of the adoption back (each atomic; the last adopted first)."""
    done = []
    for d in reversed(w.stage_dirs):
        if load_manifest(d).state == "rolled_back":
            continue  # a resumed night: this one was rolled back before the kill
        change(d, "rollback", db_path=db_path, reason=reason, night_id=night_id, project=project)
        done.append(str(d))
    return done


def change(stage_dir: Path, action: str, *, db_path: Path, reason: str, night_id: str,
           project: str) -> None:
    """Adopt or roll back one stage folder, logged in the audit log (the store's table and the
    JSONL file beside the live files)."""
    from harness.nightly import audit

    fn = audit.adopt if action == "adopt" else audit.rollback
    fn(db_path, stage_dir, reason=reason, night_id=night_id, project=project)
