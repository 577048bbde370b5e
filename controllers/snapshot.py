"""Pre-task git snapshots of a sandbox's workspace: record, restore exactly, diff.

Why git and a private ref: the workspace is usually a git repo already, git stores every
file kind we care about (content, deletions, binary, executable bit, symlinks), and a
commit under ``refs/harness/snapshots/<id>`` is cheap, content-addressed and safe from
``git gc``. The user's branch, index and stash are recorded and put back, not moved, so a
restore also undoes an agent's commits, branch switches and stashes.

Limits (said, not hidden): empty directories are not recorded (git does not track them);
ignored files only with ``include_ignored=True``; submodule contents are left alone with a
warning; an agent that deletes ``.git`` itself destroys the snapshot (restore then fails
with SnapshotError, and the runner starts a fresh sandbox).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from controllers.sandbox.base import Sandbox
from harness.errors import SnapshotError

log = logging.getLogger(__name__)
SCRIPT = (Path(__file__).with_name("snapshot.sh")).read_text()
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Snapshot:
    """A recorded workspace state: ``commit`` is the tree's commit under ``ref``."""

    id: str
    commit: str
    workdir: str
    include_ignored: bool

    @property
    def ref(self) -> str:
        return f"refs/harness/snapshots/{self.id}"


@dataclass(frozen=True)
class Change:
    status: str  # A, M, D, T (type change: file <-> symlink)
    path: str


class GitSnapshotter:
    """Snapshots of one workspace inside one sandbox; each operation is a single exec."""

    def __init__(self, sandbox: Sandbox, workdir: str | None = None, *, timeout_sec: float = 300.0,
                 user: str | None = None, private_dir: str | None = None) -> None:
        """``private_dir`` (with ``user="root"``): sealed mode, for a workspace sealed by
        ``pristine.sh``: snapshots and diffs use the harness's private git dir there, so
        nothing the agent put in its ``.git`` (config, hooks, excludes, refs) is read, and
        the snapshot refs are out of its reach."""
        self.sandbox = sandbox
        self.workdir = workdir or sandbox.workdir
        self.timeout_sec = timeout_sec
        self.user = user
        self.env = {"HARNESS_SNAP_PRIVATE": private_dir} if private_dir else {}
        self.warnings: list[str] = []

    def _run(self, op: str, snap_id: str, *flags: str, prelude: str = "", postlude: str = "",
             env: dict[str, str] | None = None) -> str:
        # ``prelude`` / ``postlude``: shell run before / after the operation in the same
        # process (one exec instead of several: each costs the engine ~45 ms of CPU); the
        # operation runs in a subshell so its ``exit`` does not skip the postlude
        script = SCRIPT
        if postlude:
            script = f"(\n{SCRIPT}\n) || exit $?\n{postlude}"
        if prelude:
            script = f"{prelude}\n{script}"
        r = self.sandbox.exec(
            ["sh", "-c", script, "sh", op, snap_id, *flags],
            cwd=self.workdir,
            timeout_sec=self.timeout_sec,
            env={**self.env, **(env or {})} or None,
            user=self.user,
        )
        for line in r.stderr.splitlines():
            if line.startswith("warning:"):
                self.warnings.append(line)
                log.warning("%s: %s", self.workdir, line)
            elif line.startswith("note:"):
                log.info("%s: %s", self.workdir, line)
        if not r.ok:
            raise SnapshotError(f"git snapshot {op} in {self.workdir} failed: {r.describe()}")
        return r.stdout

    def snapshot(self, snap_id: str | None = None, *, include_ignored: bool = False) -> Snapshot:
        """Record the whole working tree now. Initialises a repo when there is none."""
        snap_id = snap_id or uuid.uuid4().hex[:12]
        if not _ID.match(snap_id):
            raise SnapshotError(f"snapshot id {snap_id!r} must match {_ID.pattern}")
        out = self._run("snapshot", snap_id, *(["--ignored"] if include_ignored else []))
        commit = out.strip().splitlines()[-1] if out.strip() else ""
        if not re.fullmatch(r"[0-9a-f]{40,64}", commit):
            raise SnapshotError(f"git snapshot in {self.workdir} printed no commit: {out[-200:]!r}")
        return Snapshot(snap_id, commit, self.workdir, include_ignored)

    def restore(self, snap: Snapshot, *, prelude: str = "", postlude: str = "",
                env: dict[str, str] | None = None) -> str:
        """Bring the tree, HEAD, refs, index and stash back to exactly what ``snap`` saw.

        ``prelude`` / ``postlude``: shell run before / after it in the same exec (the
        runner's home wipe, the next trial's files), with ``env``; either one that fails
        should ``exit`` non-zero with an ``error:`` line on stderr. Returns the output."""
        return self._run("restore", snap.id, prelude=prelude, postlude=postlude, env=env)

    def diff(self, snap: Snapshot) -> str:
        """The binary-safe patch from the snapshot to the working tree as it is now."""
        return self._run("diff", snap.id)

    def changed(self, snap: Snapshot) -> list[Change]:
        """Paths that differ from the snapshot, with their git status letter."""
        out = self._run("changed", snap.id)
        changes = []
        for line in out.splitlines():
            status, _, path = line.partition("\t")
            if path:
                changes.append(Change(status[:1], path))
        return changes

    def report(self, snap: Snapshot, extra_file: str = "", *globs: str) -> tuple[str, list[Change], str, list[str]]:
        """In one exec (the runner's collect step): the diff, the changed paths,
        ``extra_file``'s text, and the newest file matching each of ``globs`` ("" if none)."""
        marker = f"@@harness-{uuid.uuid4().hex}@@"
        out = self._run("report", snap.id, marker, extra_file, *globs)
        parts = out.split(marker + "\n")
        if len(parts) != 4 + len(globs):  # the script ends every part with the marker
            raise SnapshotError(f"git snapshot report in {self.workdir} came back with {len(parts) - 1} of "
                                f"{3 + len(globs)} parts: the engine's reply was cut short")
        diff, status, extra = parts[0], parts[1], parts[2]
        changes = []
        for line in status.splitlines():
            st, _, path = line.partition("\t")
            if path:
                changes.append(Change(st[:1], path))
        return diff, changes, extra, parts[3:3 + len(globs)]

    def drop(self, snap: Snapshot) -> None:
        self._run("drop", snap.id)
