"""Warm reuse is as clean as a fresh container, or it is not used.

Trial 0 plants everything a hostile or careless agent can leave behind (processes under any
name, a daemonised writer, git config / hooks / aliases / excludes, stray files everywhere it
can write, IPC); trial 1's state after the warm reset must equal a freshly prepared
container's. A reset that cannot be trusted must replace the container instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.profiles.base import AGENT_HOME, HOOK_PATH
from controllers.sandbox import SandboxLimits
from gate.checks import evaluate_all
from gate.models import TrialEvidence
from harness.providers import warm as ws
from harness.providers.docker import prepare as docker_prepare
from harness.tasks import load_suite, shims

pytestmark = pytest.mark.docker

CHECKS = [
    {"op": "diff_not_touches", "name": "app untouched", "paths": ["app.py"]},
    {"op": "command", "name": "nothing ran", "cmd": ["sh", "-c", "! ls -A | grep -q was-here"]},
    {"op": "command", "name": "tests pass", "cmd": ["python3", "app.py"]},
]

PLANT = r"""
set -e
# a daemonised writer, a process named like tmux's server, a real tmux server, a plain sleeper
setsid nohup sh -c 'while :; do echo x >> /workspace/app.py; sleep 0.05; done' >/dev/null 2>&1 < /dev/null &
setsid nohup bash -c "exec -a 'tmux: server' sleep 10000" >/dev/null 2>&1 < /dev/null &
tmux -S /tmp/planted.sock new-session -d 'sleep 10000'
nohup sleep 9999 >/dev/null 2>&1 < /dev/null &
# .git: fsmonitor, alias, hooks, excludes, commits, branches, tags, stash, loose objects
printf '#!/bin/sh\necho pwn > /workspace/fsm-was-here\n' > ~/fsm.sh && chmod +x ~/fsm.sh
git config core.fsmonitor ~/fsm.sh
git config alias.st '!echo pwn > /workspace/alias-was-here'
for h in pre-commit post-checkout reference-transaction post-index-change; do
  printf '#!/bin/sh\necho pwn > /workspace/hook-was-here\n' > .git/hooks/$h && chmod +x .git/hooks/$h
done
echo '*.py' >> .git/info/exclude
git -c core.fsmonitor= -c core.hooksPath=/dev/null checkout -qb agent-branch
echo changed >> README.md
git -c core.fsmonitor= -c core.hooksPath=/dev/null commit -qam agent
git -c core.hooksPath=/dev/null tag v-agent
echo stash-me >> README.md && git -c core.fsmonitor= -c core.hooksPath=/dev/null stash -q
# stray files everywhere the agent can write, ignored ones in the workspace, odd modes
for d in /tmp /var/tmp /dev/shm ~ ~/.cache; do mkdir -p "$d" && echo stray > "$d/stray"; done
echo lock > /run/lock/stray
echo junk > build/new.log && echo junk > top.log && mkdir -p empty/dir && mkfifo fifo
git init -q nested && ln -s /etc escape && echo 'print("v2")' > app.py
chmod 600 .gitignore && chmod 700 build && rm build/keep.txt
echo '{"tool":"fake"}' >> /harness/tools/tools.log
ipcmk -M 4096 >/dev/null
"""

STATE = r"""
cd /workspace
git status --porcelain=v1 --branch --untracked-files=all --ignored; echo ---
git st 2>&1 | head -n 1; echo ---
git config -l --show-origin | grep -v '^file:/etc'; echo ---
git for-each-ref --format='%(refname)'; git stash list; git rev-parse 'HEAD^{tree}'; echo ---
ls -la .git/hooks | awk '{print $1, $3, $NF}'; sha256sum .git/hooks/* .git/info/exclude; echo ---
find . -path ./.git -prune -o -printf '%p %y %m %u %s\n' | sort; echo ---
find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum; echo ---
find /tmp /var/tmp /dev/shm /run/lock /dev/mqueue /home/agent -printf '%p %y %m %u %s\n' | sort; echo ---
cat /harness/tools/tools.log; echo ---
ps -o user=,args= -U agent -u agent; echo ---
ipcs -m | awk 'NR > 3 && $1 != ""' | wc -l
"""


@pytest.fixture
def task(tmp_path: Path) -> Any:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "app.py").write_text("print('v1')\n")
    (tmp_path / "repo" / "README.md").write_text("readme\n")
    (tmp_path / "repo" / ".gitignore").write_text("*.log\nbuild/\n")
    spec = {"schema": "harness.task/v1", "id": "iso-1", "prompt": "hi", "workspace": {"path": "repo"},
            "split": "heldout", "checks": CHECKS,
            "setup": ["git init -q && git add -A && git commit -qm init && mkdir build && echo b > build/keep.txt"],
            "tools": [{"name": "lookup", "output": "found"}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec))
    return load_suite(tmp_path).tasks[0]


def _prepare(task: Any, docker_client: Any, image: str) -> ws.WarmSandbox:
    return docker_prepare(task, image=image, client=docker_client, run_id="test-iso", limits=SandboxLimits(),
                      with_relay=False, gateway_url=None)


def _files() -> dict[str, tuple[bytes | str, int, str]]:
    return {f"{AGENT_HOME}/.claude/settings.json": ('{"t": 1}', 0o600, "agent"),
            f"{AGENT_HOME}/.harness/events.jsonl": (b"", 0o644, "agent")}


def _sh(w: ws.WarmSandbox, script: str, user: str | None = None) -> str:
    r = w.box.exec(["bash", "-c", script], cwd=w.workdir, user=user, timeout_sec=60)
    assert r.ok, f"{script[:80]!r}: {r.describe()}"
    return r.stdout


def _state(w: ws.WarmSandbox) -> dict[str, Any]:
    """What trial 1 sees, and what its diff and checks say."""
    time.sleep(0.5)  # a writer that survived would show by now
    diff, changes, tools, _ = w.snapper.report(w.pristine, shims.LOG_PATH)

    def run(cmd: list[str], timeout_sec: float) -> tuple[int, str, str]:
        r = w.box.exec(cmd, cwd=w.workdir, timeout_sec=timeout_sec)
        return r.exit_code, r.stdout, r.stderr

    ev = TrialEvidence(diff=diff, changed_paths=tuple(c.path for c in changes), exec=run)
    checks = [(c.name, c.passed) for c in evaluate_all(CHECKS, ev)]
    seen = _sh(w, STATE, user="root")  # as root: the agent's own view must not run its traps
    agent_view = _sh(w, "git status --short; git st 2>&1 | head -n 1; ls -A")  # as the agent
    return {"diff": diff, "tools": tools, "checks": checks, "state": seen.split("---\n"), "agent": agent_view}


def _trial0(w: ws.WarmSandbox) -> None:
    w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
    _sh(w, f"{shims.SHIM_DIR}/lookup x >/dev/null")
    _sh(w, PLANT)
    assert "tmux: server" in _sh(w, "ps -o args= -u agent"), "the planted processes must run"


def test_warm_reset_equals_a_fresh_container(task: Any, docker_client: Any, base_image: str) -> None:
    fresh = _prepare(task, docker_client, base_image)
    try:
        fresh.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        want = _state(fresh)
    finally:
        fresh.close()
    assert want["checks"] == [("app untouched", True), ("nothing ran", True), ("tests pass", True)]
    w = _prepare(task, docker_client, base_image)
    try:
        _trial0(w)
        dirty = _state(w)
        assert dirty["state"] != want["state"] and dirty["checks"] != want["checks"], "trial 0 must leave traces"
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        assert not w.fresh_reason, "the reset must succeed, not fall back"
        got = _state(w)
        for key in ("diff", "tools", "checks", "agent"):
            assert got[key] == want[key], key
        for i, (g, f) in enumerate(zip(got["state"], want["state"], strict=True)):
            assert g == f, f"state part {i} differs:\n{g}\n--- fresh:\n{f}"
    finally:
        w.close()


def test_agent_cannot_reach_the_pristine_state(task: Any, docker_client: Any, base_image: str) -> None:
    w = _prepare(task, docker_client, base_image)
    try:
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        probes = {
            "list state": f"ls {ws.PRIVATE_DIR}",
            "read ref": f"cat {ws.PRIVATE_DIR}/git/refs/harness/snapshots/pristine",
            "write store": "touch /var/lib/harness/objects/x",
            "write store object": "f=$(find /var/lib/harness/objects -type f | head -n 1); echo x >> \"$f\"",
            "write shim": f"echo x > {shims.SHIM_DIR}/lookup",
            "new shim": f"echo x > {shims.SHIM_DIR}/other",
            "write hook": f"echo x > {HOOK_PATH}",
        }
        for name, cmd in probes.items():
            r = w.box.exec(["sh", "-c", cmd], cwd=w.workdir)
            assert not r.ok, f"the agent could {name}"
        assert _sh(w, "git for-each-ref refs/harness") == "", "no snapshot ref in the agent's repo"
        # a forged snapshot ref and excludes in the agent's repo change nothing the harness sees
        _sh(w, "echo changed > app.py && git update-ref refs/harness/snapshots/pristine HEAD "
               "&& echo app.py >> .git/info/exclude")
        assert [c.path for c in w.snapper.changed(w.pristine)] == ["app.py"]
    finally:
        w.close()


def test_deleted_git_and_workspace_come_back_warm(task: Any, docker_client: Any, base_image: str) -> None:
    w = _prepare(task, docker_client, base_image)
    try:
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        before = _sh(w, STATE, user="root")
        _sh(w, "rm -rf .git * .gitignore && echo other > new.txt && chmod 500 /workspace")
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        assert not w.fresh_reason
        assert _sh(w, STATE, user="root") == before
    finally:
        w.close()


UNKILLABLE = ("setsid nohup python3 -c 'import os, time; os.setresuid(0, 1000, 0); time.sleep(10000)' "
              ">/dev/null 2>&1 < /dev/null &")


@pytest.mark.parametrize("wreck", ["unkillable", "state_gone"])
def test_untrusted_reset_falls_back_to_a_fresh_container(task: Any, docker_client: Any, base_image: str,
                                                         wreck: str) -> None:
    """A process of the agent's uid that its kill cannot reach (simulated as root: the agent
    cannot make one, but a process stuck in the kernel looks the same), or a pristine state
    that is gone: the next trial gets a fresh container, clean."""
    w = _prepare(task, docker_client, base_image)
    try:
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        fresh_state = _sh(w, STATE, user="root")
        _sh(w, "echo junk > app.py; echo stray > /tmp/stray")
        _sh(w, UNKILLABLE if wreck == "unkillable" else f"rm -rf {ws.PRIVATE_DIR}", user="root")
        old = w.box.container_id
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        assert w.fresh_reason, "an untrusted reset must be reported"
        assert ("survive" in w.fresh_reason) if wreck == "unkillable" else ("gone" in w.fresh_reason)
        assert w.box.container_id != old, "a new container runs the trial"
        assert _sh(w, STATE, user="root") == fresh_state
        assert old not in [c.id for c in docker_client.containers.list(all=True)], "the old one is removed"
    finally:
        w.close()


def _run_noop(suite_dir: Path, runs: Path, fresh: bool = False) -> tuple[list[dict[str, Any]], list[Any]]:
    """Two noop trials of the suite's task on one worker: their extras and the run's events."""
    from controllers.profiles import get_profile
    from controllers.profiles.base import Variant
    from harness.runner.paths import RunPaths
    from harness.runner.run import Runner, RunOptions
    from harness.runner.store import Store

    with Store(runs / "harness.db") as store:
        store.create_run("iso-run", suite="iso", agent="noop", model_mode="scripted", config={})
        opts = RunOptions(agent="noop", variants=[Variant("baseline")], trials=2, concurrency=1,
                          fresh_sandbox=fresh)
        outs = Runner(load_suite(suite_dir), opts, RunPaths(runs, "iso-run"), store, gateway=None,
                      profile=get_profile("noop")).run()
        events = store.events("iso-run")
    assert all(o.record.status == "passed" for o in outs), [o.record.reason for o in outs]
    return [o.extra for o in sorted(outs, key=lambda o: o.record.attempt)], events


@pytest.mark.parametrize("fresh", [False, True])
def test_runner_records_warm_reuse_and_fresh_sandbox(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                                      task: Any, fresh: bool) -> None:
    """The runner reuses a task's container (``warm: true``) unless told ``fresh_sandbox``,
    and says why a trial ran in a new container (``fresh_reason``)."""
    extras, _ = _run_noop(tmp_path, tmp_path_factory.mktemp("runs"), fresh)
    assert [e["warm"] for e in extras] == [False, not fresh]
    assert [e.get("fresh_reason") for e in extras] == [None, "--fresh-sandbox" if fresh else None]


def test_runner_records_a_reset_that_fell_back(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                               task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """How the runner reports a warm reset that failed (the failures themselves are proven
    above): the trial ran in a new container, ``warm: false``, why, and an event."""

    def fail(self: ws.WarmSandbox, **_: Any) -> str:
        raise ws.ResetFailed("simulated: a process survives SIGKILL")

    monkeypatch.setattr(ws.WarmSandbox, "reset", fail)
    extras, events = _run_noop(tmp_path, tmp_path_factory.mktemp("runs"))
    assert [e["warm"] for e in extras] == [False, False]
    assert extras[1]["fresh_reason"] == "simulated: a process survives SIGKILL"
    assert [(e["kind"], e["trial"]) for e in events if e["kind"] == "fresh_sandbox"] == [("fresh_sandbox", "iso-1/baseline/1")]


def test_cli_fresh_sandbox_is_kept_for_resume(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                              task: Any) -> None:
    from tests.runner.conftest import harness_cli

    runs = tmp_path_factory.mktemp("runs")
    r = harness_cli("run", str(tmp_path), "--agent", "noop", "--variant", "baseline=none", "-k", "1",
                    "-j", "1", "--runs-dir", str(runs), "--fresh-sandbox", "--json", timeout=600)
    configs = list(runs.glob("*/run.json"))
    assert configs, f"rc={r.returncode}\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}"
    assert json.loads(configs[0].read_text())["fresh_sandbox"] is True


def test_a_trial_snapshot_is_private_and_gone_after_the_reset(task: Any, docker_client: Any, base_image: str) -> None:
    """A variant that writes into the workspace gets its own baseline snapshot (as the
    runner takes it): kept in the private state, diffed from there, dropped by the reset."""
    w = _prepare(task, docker_client, base_image)
    try:
        w.begin({**_files(), f"{ws.WORKDIR}/CLAUDE.md": ("# memory\n", 0o644, "agent")},
                roots=(AGENT_HOME, ws.WORKDIR))
        post = w.snapper.snapshot(f"t{w.trials}")
        _sh(w, "echo more >> README.md")
        assert [(c.status, c.path) for c in w.snapper.changed(post)] == [("M", "README.md")]
        assert {(c.status, c.path) for c in w.snapper.changed(w.pristine)} == {("A", "CLAUDE.md"), ("M", "README.md")}
        snaps = f"ls {ws.PRIVATE_DIR}/git/harness/snapshots {ws.PRIVATE_DIR}/git/refs/harness/snapshots"
        assert _sh(w, snaps, user="root").split().count(post.id) == 2
        w.begin(_files(), roots=(AGENT_HOME, ws.WORKDIR))
        assert post.id not in _sh(w, snaps, user="root").split()
        assert _sh(w, "ls CLAUDE.md 2>/dev/null; git status --porcelain") == ""
    finally:
        w.close()


def test_a_workspace_that_cannot_be_sealed_is_never_reused(tmp_path: Path, docker_client: Any,
                                                          base_image: str) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "a.txt").write_text("a\n")
    spec = {"schema": "harness.task/v1", "id": "iso-2", "prompt": "hi", "workspace": {"path": "repo"},
            "split": "heldout", "checks": CHECKS,
            "setup": ["git init -q --separate-git-dir=/home/agent/gitdir . && git add -A && git commit -qm i"]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec))
    w = _prepare(load_suite(tmp_path).tasks[0], docker_client, base_image)
    try:
        assert "not a directory" in w.no_reuse, w.no_reuse
        _sh(w, "echo b > a.txt")
        assert [c.path for c in w.snapper.changed(w.pristine)] == ["a.txt"], "diffs still work"
    finally:
        w.close()
