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

import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.staging import Manifest, load_manifest, rollback, sha256_file
from harness.nightly import layout
from harness.nightly.candidates import NightDirs
from harness.nightly.config import NightlyConfig
from harness.nightly.records import NightStore


@dataclass(frozen=True)
class Watched:
    night_id: str            # the night that adopted it
    stage_root: Path         # that night's stage folder (one sub-folder per target)
    stage_dirs: tuple[Path, ...]


def stage_dirs(stage_root: Path) -> list[Path]:
    """The per-target stage folders under a night's stage folder, in a stable order."""
    if not stage_root.is_dir():
        return []
    return sorted(p for p in stage_root.iterdir() if (p / "manifest.json").is_file())


def find_adopted(store: NightStore, project: str, night_id: str) -> tuple[Watched | None, str]:
    """The project's latest adoption, still live; else None and why nothing is watched."""
    nights = [n for n in store.nights(project) if n.night_id != night_id]
    rolled = {n.rolled_back for n in nights if n.rolled_back}
    last = next((n for n in reversed(nights) if n.adopted), None)
    if last is None or last.adopted is None:
        return None, "no adopted skill to watch"
    if last.adopted in rolled:
        return None, f"the skill adopted on {last.night_id} was rolled back already"
    root = Path(last.adopted)
    dirs = stage_dirs(root)
    manifests = [load_manifest(d) for d in dirs]
    if not manifests or any(m.state != "adopted" for m in manifests):
        return None, f"the skill adopted on {last.night_id} is no longer adopted ({root})"
    drifted = [f.path for m in manifests for f in m.changes()
               if sha256_file(Path(m.live_root) / f.path) != f.candidate_sha256]
    if drifted:
        return None, (f"live files changed since {last.night_id} adopted them "
                      f"({', '.join(drifted)}): not watched")
    return Watched(last.night_id, root, tuple(dirs)), f"watching the skill adopted on {last.night_id}"


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
    """Adopt or roll back one stage folder, through the audit log when this build has it.

    AUDIT CALL SITE (issue 13 item 4): ``harness.nightly.audit`` (another branch) adopts /
    rolls back and records the entry in the store and the JSONL file beside the live files;
    until it is merged, the plain ``gate.staging`` calls run and nothing is logged."""
    try:
        audit: Any = importlib.import_module("harness.nightly.audit")
    except ModuleNotFoundError as exc:
        if exc.name != "harness.nightly.audit":
            raise
        audit = None
    if audit is not None:
        fn = audit.adopt if action == "adopt" else audit.rollback
        fn(db_path, stage_dir, reason=reason, night_id=night_id, project=project)
    elif action == "adopt":
        from gate.staging import adopt

        adopt(stage_dir)
    else:
        rollback(stage_dir)
