"""WarmSandbox on a real container: a used sandbox is reset and the next trial's files are
installed in one exec, and what a trial leaves behind never reaches the next one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.profiles.base import AGENT_HOME, HOOK_PATH
from controllers.sandbox import SandboxLimits
from harness.providers import warm as ws
from harness.providers.docker import prepare as docker_prepare
from harness.tasks import load_suite

pytestmark = pytest.mark.docker


@pytest.fixture
def warm(tmp_path: Path, docker_client: Any, base_image: str) -> Any:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "app.py").write_text("print('v1')\n")
    task = {"schema": "harness.task/v1", "id": "ws-1", "prompt": "hi", "workspace": {"path": "repo"},
            "split": "heldout", "checks": [{"op": "contains", "value": "x"}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(task))
    suite = load_suite(tmp_path)
    w = docker_prepare(suite.tasks[0], image=base_image, client=docker_client, run_id="test-ws",
                   limits=SandboxLimits(), with_relay=False, gateway_url=None)
    try:
        yield w
    finally:
        w.close()


def _files(tag: str, extra: dict[str, Any] | None = None) -> dict[str, tuple[bytes | str, int, str]]:
    return {f"{AGENT_HOME}/.claude/settings.json": (f'{{"t": "{tag}"}}', 0o600, "agent"),
            f"{ws.WORKDIR}/CLAUDE.md": (f"# {tag}\n", 0o644, "agent"),
            f"{AGENT_HOME}/bin/tool": ("#!/bin/sh\necho hi\n", 0o755, "agent"),
            **(extra or {})}


def _sh(w: Any, cmd: str) -> str:
    r = w.box.exec(["sh", "-c", cmd], cwd=ws.WORKDIR)
    assert r.ok, r.describe()
    return r.stdout


def test_begin_resets_and_installs_in_one_exec(warm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert warm.static.get(HOOK_PATH), "the hook is written once, by prepare"
    warm.begin(_files("one"), roots=(AGENT_HOME, ws.WORKDIR))
    # the trial dirties everything a reset must undo
    _sh(warm, f"echo junk > {AGENT_HOME}/.claude/left-over; echo v2 > app.py; echo new > new.txt; "
              "git add -A >/dev/null; git commit -qm agent")
    calls: list[str] = []
    real_exec, real_put = warm.box.exec, warm.box.write_files
    monkeypatch.setattr(warm.box, "exec", lambda *a, **k: calls.append("exec") or real_exec(*a, **k))
    monkeypatch.setattr(warm.box, "write_files", lambda *a, **k: calls.append("put") or real_put(*a, **k))
    warm.begin(_files("two"), roots=(AGENT_HOME, ws.WORKDIR))
    assert calls == ["exec"], "a warm begin is one engine call"
    monkeypatch.undo()
    assert _sh(warm, f"cat {AGENT_HOME}/.claude/settings.json") == '{"t": "two"}'
    assert _sh(warm, "cat CLAUDE.md app.py") == "# two\nprint('v1')\n"
    assert _sh(warm, f"ls -A {AGENT_HOME}/.claude") == "settings.json\n"  # the left-over is gone
    assert "new.txt" not in _sh(warm, "ls") and _sh(warm, "git rev-parse -q --verify HEAD || echo unborn") == "unborn\n"
    assert _sh(warm, f"stat -c '%a %U' {AGENT_HOME}/bin/tool {AGENT_HOME}/.claude/settings.json") == \
        "755 agent\n600 agent\n"


def test_begin_falls_back_to_a_copy_for_big_or_foreign_files(warm: Any) -> None:
    warm.begin(_files("one"), roots=(AGENT_HOME, ws.WORKDIR))
    big = bytes(range(256)) * (ws.INLINE_MAX_BYTES // 256 + 64)
    extra = {f"{AGENT_HOME}/big.bin": (big, 0o644, "agent"), "/opt/harness/bin/rooted": ("x", 0o755, "root")}
    warm.begin(_files("two", extra), roots=(AGENT_HOME, ws.WORKDIR, "/opt/harness/bin"))
    out = _sh(warm, f"stat -c '%s %U' {AGENT_HOME}/big.bin /opt/harness/bin/rooted; cat CLAUDE.md")
    assert f"{len(big)} agent" in out and "1 root" in out and "# two" in out
    assert warm.box.read_file(f"{AGENT_HOME}/big.bin") == big


def test_begin_starts_the_agent_in_the_same_exec(warm: Any) -> None:
    """``then``: the tmux start rides in the begin exec, on a fresh and on a used sandbox,
    and sees the files that were installed just before it."""
    from controllers.profiles.base import STATE_DIR
    from controllers.tmux import SandboxTmuxController

    for tag in ("fresh", "used"):
        ctl = SandboxTmuxController(warm.box, socket_path=f"{STATE_DIR}/t-{tag}.sock")
        argv = ctl.start_argv(["sh", "-c", "cat CLAUDE.md; sleep 600"], cwd=ws.WORKDIR, width=80, height=10)
        files = _files(tag, {f"{STATE_DIR}/events.jsonl": (b"", 0o644, "agent")})  # the socket's dir
        out = warm.begin(files, roots=(AGENT_HOME, ws.WORKDIR), then=argv)
        try:
            ctl.started(out)
            assert ctl.pane_id.startswith("%")
            ctl.wait_for_text(f"# {tag}", timeout_sec=10)
        finally:
            ctl.close(kill_server=False)  # the next begin's reset ends the server
