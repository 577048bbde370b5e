"""Git snapshot / restore / diff inside a real container, for every file kind and agent move."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from controllers.sandbox import DockerSandbox
from controllers.snapshot import GitSnapshotter
from harness.errors import SnapshotError

pytestmark = pytest.mark.docker

STATE = (
    "git status --porcelain=v2 --branch --untracked-files=all --ignored; echo ---; "
    "git stash list --format='%gd %H %s'; echo ---; git for-each-ref --format='%(refname) %(objectname)' "
    "| grep -v refs/harness/; echo ---; git rev-parse HEAD 2>/dev/null; git symbolic-ref -q HEAD || echo detached; "
    "echo ---; find . -path ./.git -prune -o -print0 | sort -z | xargs -0 stat -c '%n %A %s' ; echo ---; "
    "find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum; "
    "find . -path ./.git -prune -o -type l -print0 | sort -z | xargs -0 -r readlink"
)


@pytest.fixture
def ws(docker_box: DockerSandbox) -> tuple[GitSnapshotter, Callable[[str], str]]:
    d = f"/workspace/snap-{uuid.uuid4().hex[:8]}"
    docker_box.exec(["mkdir", "-p", d])

    def sh(script: str) -> str:
        r = docker_box.exec(["bash", "-c", f"set -e; {script}"], cwd=d, timeout_sec=60)
        assert r.ok, f"{script!r}: {r.describe()} {r.stderr}"
        return r.stdout

    return GitSnapshotter(docker_box, d), sh


def _repo(sh: Callable[[str], str]) -> None:
    sh(
        "git init -q . && echo one > tracked.txt && printf 'bin\\000\\001\\377' > blob.bin "
        "&& printf '#!/bin/sh\\necho hi\\n' > tool.sh && chmod +x tool.sh && ln -s tracked.txt link "
        "&& mkdir -p dir/sub && echo deep > dir/sub/deep.txt && echo '*.log' > .gitignore "
        "&& git add -A && git commit -qm base && echo staged >> tracked.txt && git add tracked.txt "
        "&& echo untracked > new.txt && rm dir/sub/deep.txt && echo keep > ignored.log "
        "&& echo first > s.txt && git add s.txt && git stash -q"
    )


AGENT_MOVES = {
    "edits": "echo changed > tracked.txt; printf 'other\\000' > blob.bin; echo more > new.txt",
    "deletes": "rm tracked.txt blob.bin link; rm -rf dir",
    "modes_and_links": "chmod -x tool.sh; rm link; ln -s tool.sh link; chmod +x new.txt",
    "adds": "mkdir -p a/b && echo x > a/b/c.txt && printf '\\377\\376' > a/bin && ln -s nowhere dangling",
    "type_swap": "rm link && echo now-a-file > link && rm tool.sh && ln -s tracked.txt tool.sh",
    "commit": "echo c > tracked.txt && git add -A && git commit -qm agent && echo after > x.txt",
    "branch": "git checkout -qb feature && echo f > f.txt && git add f.txt && git commit -qm feat",
    "stash": "echo s > tracked.txt && git stash -q && echo t > new.txt && git stash -u -q",
    "detach_and_tag": "git checkout -q --detach HEAD && git tag -a v9 -m v9 && git branch -D -q master 2>/dev/null || git branch -m main gone",
    "index_games": "git add -A && git reset -q tracked.txt && git rm -q --cached blob.bin",
    "half_merge": "git checkout -qb other && echo o > tracked.txt && git commit -qam o && git checkout -q - "
    "&& echo m > tracked.txt && git commit -qam m && (git merge other >/dev/null 2>&1 || true)",
}


@pytest.mark.parametrize("move", sorted(AGENT_MOVES))
def test_restore_is_exact_after_agent_moves(ws: Any, move: str) -> None:
    snapper, sh = ws
    _repo(sh)
    before = sh(STATE)
    snap = snapper.snapshot()
    assert sh(STATE) == before, "snapshot itself must not change anything the user sees"
    sh(AGENT_MOVES[move])
    assert sh(STATE) != before, "the move must change something (else the test proves nothing)"
    snapper.restore(snap)
    assert sh(STATE) == before


def test_ignored_files_only_when_asked(ws: Any) -> None:
    snapper, sh = ws
    _repo(sh)
    plain = snapper.snapshot("plain")
    full = snapper.snapshot("full", include_ignored=True)
    sh("echo changed > ignored.log && echo junk > new.log")
    assert snapper.changed(plain) == []
    changed = {(c.status, c.path) for c in snapper.changed(full)}
    assert changed == {("M", "ignored.log"), ("A", "new.log")}
    snapper.restore(full)
    assert sh("cat ignored.log; ls new.log 2>/dev/null || echo gone") == "keep\ngone\n"


def test_diff_and_changed(ws: Any) -> None:
    snapper, sh = ws
    _repo(sh)
    snap = snapper.snapshot()
    sh("echo changed > tracked.txt && rm blob.bin && echo n > added.txt && chmod -x tool.sh")
    got = {(c.status, c.path) for c in snapper.changed(snap)}
    assert got == {("M", "tracked.txt"), ("D", "blob.bin"), ("A", "added.txt"), ("M", "tool.sh")}
    patch = snapper.diff(snap)
    assert "+changed" in patch and "deleted file mode 100644" in patch
    assert "old mode 100755" in patch and "GIT binary patch" in patch
    # the patch applies in reverse to give the snapshot back
    sh(f"cat > /tmp/p.diff <<'EOF_PATCH'\n{patch}EOF_PATCH\ngit apply -R --binary /tmp/p.diff")
    assert snapper.changed(snap) == []


def test_not_a_repo_is_initialised(ws: Any) -> None:
    snapper, sh = ws
    sh("echo plain > file.txt")
    snap = snapper.snapshot()
    sh("echo edited > file.txt && echo x > extra")
    snapper.restore(snap)
    assert sh("cat file.txt; ls") == "plain\nfile.txt\n"


def test_submodules_left_alone_with_a_warning(ws: Any) -> None:
    snapper, sh = ws
    sh(
        "mkdir -p /tmp/subsrc && cd /tmp/subsrc && (git init -q . 2>/dev/null; echo s > s && git add s "
        "&& git commit -qm s || true) && cd - >/dev/null && git init -q . && echo a > a && git add a "
        "&& git commit -qm a && git -c protocol.file.allow=always submodule -q add /tmp/subsrc sub "
        "&& git commit -qm sub"
    )
    snapper.snapshot()
    assert any("submodules" in w for w in snapper.warnings)


def test_restore_of_unknown_snapshot_is_an_error(ws: Any) -> None:
    snapper, sh = ws
    sh("git init -q .")
    from controllers.snapshot import Snapshot

    with pytest.raises(SnapshotError, match="restore"):
        snapper.restore(Snapshot("nope", "0" * 40, snapper.workdir, False))
    with pytest.raises(SnapshotError):
        snapper.snapshot("bad id with spaces")
