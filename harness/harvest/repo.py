"""The repo state a session started from, found without touching the user's repository.

Why read-only: harvest runs nightly on a person's working copies. Only commands that read
(``rev-parse``, ``rev-list``, ``cat-file``, ``symbolic-ref``, ``show-ref``,
``config --get``) run, with
``GIT_OPTIONAL_LOCKS=0`` so git does not even refresh the index; nothing is fetched,
checked out, stashed or written. Codex records the commit in ``session_meta.git``; for
Claude the start commit is the last commit on the session's branch before its first
timestamp (``git rev-list -1 --before=<t> <branch>``), or on the default branch when that
branch is gone (then ``approximate``).
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

from harness.harvest.digest import StartState

GIT_TIMEOUT_SEC = 30


def _git(repo: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        r = subprocess.run(
            ["git", "-C", repo, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=GIT_TIMEOUT_SEC,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return 127, "git is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return r.returncode, (r.stdout if r.returncode == 0 else r.stderr).strip()


def toplevel(cwd: str) -> tuple[str | None, str | None]:
    """The repository's top level for ``cwd``, or why there is none."""
    if not cwd:
        return None, "the session recorded no cwd"
    if not Path(cwd).is_dir():
        return None, f"cwd {cwd} no longer exists"
    code, out = _git(cwd, "rev-parse", "--show-toplevel")
    if code == 127:
        return None, "git is not installed (apt-get install git)"
    if code != 0:
        return None, f"cwd {cwd} is not a git repository"
    return out, None


def _has_commit(repo: str, commit: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")[0] == 0


def default_branch(repo: str) -> str | None:
    code, out = _git(repo, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if code == 0 and out:
        return out
    for name in ("main", "master", "trunk", "develop"):
        if _git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{name}")[0] == 0:
            return name
    code, out = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    return out if code == 0 and out else None


def _branch_ref(repo: str, branch: str) -> str | None:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        if _git(repo, "show-ref", "--verify", "--quiet", ref)[0] == 0:
            return ref
    return None


def _before(repo: str, ref: str, at: datetime) -> str | None:
    code, out = _git(repo, "rev-list", "-1", f"--before={at.isoformat()}", ref, "--")
    return out.split()[0] if code == 0 and out else None


def resolve(
    cwd: str,
    *,
    commit: str | None = None,
    branch: str | None = None,
    first_time: datetime | None = None,
    repository_url: str | None = None,
) -> StartState:
    """Where the session started; ``problem`` says why not when it cannot be known."""
    st = StartState(branch=branch, repository_url=repository_url)
    top, why = toplevel(cwd)
    if top is None:
        st.problem = why
        return st
    st.repo = top
    if not repository_url:  # where a replay can fetch from when the local repo is gone
        code, out = _git(top, "config", "--get", "remote.origin.url")
        st.repository_url = out if code == 0 and out else None
    if commit:
        if _has_commit(top, commit):
            st.commit, st.how = commit, "session"
        else:
            st.problem = f"commit {commit[:12]} is gone from {top}"
        return st
    if first_time is None:
        st.problem = "the session has no timestamps to place it in the history"
        return st
    ref = _branch_ref(top, branch) if branch and branch != "HEAD" else None
    if ref is not None:
        found = _before(top, ref, first_time)
        if found:
            st.commit, st.how = found, "rev-list"
            return st
        st.problem = f"no commit on {branch} before {first_time.isoformat()}"
        return st
    fallback = default_branch(top)
    fref = _branch_ref(top, fallback) if fallback else None
    found = _before(top, fref or fallback or "HEAD", first_time) if (fref or fallback) else None
    if not found:
        st.problem = (
            f"branch {branch or '(none)'} is gone and no default branch has a commit before "
            f"{first_time.isoformat()}"
        )
        return st
    st.commit, st.how, st.approximate = found, "default-branch", True
    st.branch = fallback
    return st
