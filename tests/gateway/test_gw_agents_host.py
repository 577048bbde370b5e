"""The real claude and codex CLIs, in tmux on the host, against a scripted Gateway.

Why on the host for now: it validates the wire shapes against the real binaries before the
container profiles exist; the lead moves these into containers later. The CLIs come from
HARNESS_HOST_CLI_DIR (a directory holding ``claude`` / ``codex``, or an npm prefix with
``node_modules/.bin``); the test skips outside CI when it is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gw_helpers import eventually, need

from harness.gateway import Gateway, TrialKey

pytestmark = [pytest.mark.agents, pytest.mark.tmux, pytest.mark.slow]

POLICY = """\
version: 1
title: Agent check
rules:
  - name: tool
    match: {user: "make a file", step: 0}
    reply:
      text: "Creating it."
      calls: [{shell: "echo hi > hello.txt", description: "write hello.txt"}]
  - name: after-tool
    match: {tool_result: ""}
    reply: {text: "Done, file written."}
  - name: overloaded-once
    match: {user: "flaky"}
    fault: {status: 529, first: 1, retry_after_sec: 0}
    reply: {text: "Recovered after overload."}
  - name: cut-once
    match: {user: "cutme"}
    fault: {cut_after_events: 1, first: 1}
    reply: {text: "Recovered after a cut."}
  - name: hello
    match: {user: "(?i)hello"}
    reply: {text: "Hello from the harness gateway."}
"""
SKILL = "---\nname: greeter\ndescription: Greets people warmly in pirate speak.\n---\nSay arr.\n"


def cli(name: str) -> str:
    root = os.environ.get("HARNESS_HOST_CLI_DIR", "")
    need(bool(root), "HARNESS_HOST_CLI_DIR is not set (npm prefix with claude and codex)")
    for cand in (Path(root) / name, Path(root) / "node_modules" / ".bin" / name):
        if cand.exists():
            return str(cand)
    need(False, f"no {name} under HARNESS_HOST_CLI_DIR={root}")
    raise AssertionError


class Pane:
    """A tmux pane on a private socket; only what these tests need."""

    def __init__(self, cwd: Path, argv: list[str], env: dict[str, str]) -> None:
        self.sock = f"harness-gw-{uuid.uuid4().hex[:8]}"
        envs = [f"{k}={v}" for k, v in env.items()]
        self._tmux("new-session", "-d", "-s", "a", "-x", "180", "-y", "50", "-c", str(cwd),
                   "--", "env", *envs, *argv)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True, text=True,
                              capture_output=True, timeout=10).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "a")

    def wait(self, pred: Callable[[str], bool], what: str, timeout_sec: float = 60) -> str:
        deadline = time.monotonic() + timeout_sec
        while time.monotonic() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def type(self, text: str, taken: Callable[[], bool]) -> None:
        """Type ``text`` and press Enter until ``taken()`` says a request left the CLI: right
        after the idle screen appears the TUI was seen (codex, rarely) to swallow an Enter."""
        self._tmux("send-keys", "-t", "a", "-l", "--", text)
        time.sleep(0.3)
        for _ in range(3):
            self._tmux("send-keys", "-t", "a", "Enter")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if taken():
                    return
                time.sleep(0.1)
        raise AssertionError(f"prompt {text!r} was not taken; screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=10,
                       check=False)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    p = tmp_path_factory.mktemp("policy") / "agents.yaml"
    p.write_text(POLICY)
    with Gateway("scripted", policy=p) as gw:
        yield gw


def claude_pane(tmp: Path, gw: Gateway, key: TrialKey) -> Pane:
    home, ws = tmp / "home", tmp / "ws"
    (home / ".claude" / "skills" / "greeter").mkdir(parents=True)
    (home / ".claude" / "skills" / "greeter" / "SKILL.md").write_text(SKILL)
    ws.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "theme": "dark", "bypassPermissionsModeAccepted": True,
        "customApiKeyResponses": {"approved": [key.last20], "rejected": []},
        "projects": {str(ws.resolve()): {"hasTrustDialogAccepted": True}}}))
    env = {"HOME": str(home), "ANTHROPIC_BASE_URL": gw.url, "ANTHROPIC_API_KEY": key.key,
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "IS_SANDBOX": "1", "PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    return Pane(ws, [cli("claude"), "--dangerously-skip-permissions"], env)


def codex_pane(tmp: Path, gw: Gateway, key: TrialKey) -> Pane:
    home, ws, cx = tmp / "home", tmp / "ws", tmp / "codex-home"
    (ws / ".agents" / "skills" / "greeter").mkdir(parents=True)
    (ws / ".agents" / "skills" / "greeter" / "SKILL.md").write_text(SKILL)
    home.mkdir()
    cx.mkdir()
    # An unknown model name avoids codex's "try the new model" dialog (seen with gpt-5.5).
    (cx / "config.toml").write_text(
        'model = "harness-model"\nmodel_provider = "harness"\napproval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n\n[model_providers.harness]\n'
        f'name = "harness"\nbase_url = "{gw.url}/v1"\nenv_key = "HARNESS_MODEL_KEY"\n'
        f'wire_api = "responses"\n\n[projects."{ws.resolve()}"]\ntrust_level = "trusted"\n'
        # Without this codex 0.169 leaves a detached `codex app-server` daemon behind.
        '\n[features]\ndaemon_auto_start = false\n')
    env = {"HOME": str(home), "CODEX_HOME": str(cx), "HARNESS_MODEL_KEY": key.key,
           "PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    return Pane(ws, [cli("codex")], env)


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_text_tool_overload_and_cut_turns(agent: str, gateway: Gateway, tmp_path: Path) -> None:
    key = gateway.register_trial(f"{agent}-{uuid.uuid4().hex[:6]}")
    make = claude_pane if agent == "claude" else codex_pane
    pane = make(tmp_path, gateway, key)
    idle = "? for shortcuts" if agent == "codex" else "bypass permissions on"
    try:
        pane.wait(lambda s: idle in s, "the idle prompt", 60)
        finals = lambda: [e for e in gateway.events
                          if e.kind == "final_answer" and e.trial_id == key.trial_id]

        def sent() -> Callable[[], bool]:
            n = len(gateway.exchanges(key.trial_id))
            return lambda: len(gateway.exchanges(key.trial_id)) > n

        pane.type("hello there", sent())
        pane.wait(lambda s: "Hello from the harness gateway." in s, "the text answer")
        assert eventually(lambda: len(finals()) == 1)

        pane.type("please make a file", sent())
        pane.wait(lambda s: "Done, file written." in s, "the answer after the tool")
        assert (tmp_path / "ws" / "hello.txt").read_text() == "hi\n"
        assert eventually(lambda: len(finals()) == 2)

        pane.type("flaky request", sent())
        pane.wait(lambda s: "Recovered after overload." in s, "the answer after a 529", 90)

        pane.type("cutme please", sent())
        pane.wait(lambda s: "Recovered after a cut." in s, "the answer after a cut stream", 90)
    finally:
        pane.close()
    mains = [e for e in gateway.exchanges(key.trial_id) if e.kind == "main"]
    assert [(e.turn, e.step, e.rule, e.status) for e in mains] == [
        (1, 0, "hello", 200), (2, 0, "tool", 200), (2, 1, "after-tool", 200),
        (3, 0, "overloaded-once", 529), (3, 0, "overloaded-once", 200),
        (4, 0, "cut-once", 200), (4, 0, "cut-once", 200)]
    assert "stream cut" in mains[-2].note and not mains[-1].note
    assert "greeter" in mains[0].view.skill_names
    assert any(e.kind == "title" for e in gateway.exchanges(key.trial_id))
