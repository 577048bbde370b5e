"""Change several files under one folder all together, or not at all.

Why: adopt and rollback rewrite a live skill that an agent may read at any moment. Each file
is first written in full to a temp file beside its target, then renamed over it (a rename
within one folder is atomic, so no reader sees half a file); the files replaced or removed
are kept aside until every rename went through and the result verified, so a failure at any
step puts back exactly what was there (and removes the folders this swap created).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from gate.skill_layout import SWAP_MARK
from harness.errors import GateError

_replace = os.replace  # one seam, so tests can make the n-th rename fail


def _tmp(dst: Path, tag: str) -> Path:
    return dst.with_name(f".{dst.name}.{tag}{SWAP_MARK}")


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_tmp(src: Path, dst: Path) -> Path:
    tmp = _tmp(dst, "new")
    shutil.copyfile(src, tmp)
    shutil.copymode(dst if dst.is_file() else src, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    return tmp


def _aside(dst: Path) -> Path:
    """Keep the current file under a second name (a hard link: no copy, same bytes)."""
    old = _tmp(dst, "old")
    old.unlink(missing_ok=True)
    try:
        os.link(dst, old)
    except OSError:
        shutil.copy2(dst, old)
    return old


def _mkdirs(root: Path, d: Path, created: list[str]) -> None:
    missing = [p for p in [d, *d.parents] if p.is_relative_to(root) and not p.exists()]
    for p in reversed(missing):
        p.mkdir()
        created.append(p.relative_to(root).as_posix())


def prune_dirs(root: Path, rels: Iterable[str]) -> None:
    """Remove folders a swap created, deepest first, when they are empty again."""
    for rel in sorted(rels, key=lambda r: r.count("/"), reverse=True):
        try:
            (root / rel).rmdir()
        except OSError:
            pass  # not empty (someone put a file there) or already gone: leave it


def swap(
    root: Path,
    writes: Mapping[str, Path],
    removes: Iterable[str] = (),
    *,
    verify: Callable[[], list[str]] | None = None,
) -> list[str]:
    """Make ``root/rel`` hold the bytes of ``writes[rel]`` and every ``removes`` path be gone.

    All or nothing: on any error, or when ``verify`` returns problems, every file is put back
    as it was and GateError says what failed. Returns the folders it created (relative).
    """
    created: list[str] = []
    tmps: dict[str, Path] = {}
    olds: dict[str, Path] = {}
    done: list[str] = []
    removes = [r for r in removes if (root / r).exists()]
    step = "prepare"
    try:
        for rel, src in writes.items():
            dst = root / rel
            step = f"write {rel}"
            _mkdirs(root, dst.parent, created)
            tmps[rel] = _write_tmp(src, dst)
        for rel in [*writes, *removes]:
            if (root / rel).is_file():
                step = f"keep {rel} aside"
                olds[rel] = _aside(root / rel)
        for rel, tmp in tmps.items():
            step = f"replace {rel}"
            _replace(tmp, root / rel)
            done.append(rel)
        for rel in removes:
            step = f"remove {rel}"
            (root / rel).unlink()
            done.append(rel)
        for d in {(root / r).parent for r in [*writes, *removes]}:
            _fsync_dir(d)
        problems = verify() if verify else []
        if problems:
            raise GateError(f"the live files do not read back as written: {', '.join(problems)}; "
                            "nothing was changed", hint="check the disk and who else writes there")
    except BaseException as exc:
        _undo(root, done, olds, tmps, created)
        if isinstance(exc, OSError):
            raise GateError(f"could not {step}: {exc.strerror or exc}; the live files are "
                            "unchanged", hint="fix the cause and run it again") from exc
        raise
    for old in olds.values():
        old.unlink(missing_ok=True)
    return created


def _undo(root: Path, done: list[str], olds: dict[str, Path], tmps: dict[str, Path],
          created: list[str]) -> None:
    for rel in reversed(done):
        if rel in olds:
            os.replace(olds.pop(rel), root / rel)
        else:
            (root / rel).unlink(missing_ok=True)
    for p in [*tmps.values(), *olds.values()]:
        p.unlink(missing_ok=True)
    prune_dirs(root, created)
