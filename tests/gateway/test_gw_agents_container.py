"""End to end: the real CLI in a ``--network none`` container reaches the scripted Gateway
only through the stdio relay, runs a text turn and a shell-tool turn, and its skill list
arrives at the Gateway. Uses the lead's images (harness/claude, harness/codex)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gw_helpers import eventually, need

from controllers.sandbox.owner import owner_labels
from harness.gateway import Gateway, TrialKey
from harness.gateway.relay import RELAY_JS, Relay, relay_argv

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]
POLICY = Path(__file__).resolve().parents[2] / "tasks" / "policies" / "demo.yaml"
SKILL = "---\nname: greeter\ndescription: Greets people warmly.\n---\nSay arr.\n"


def sh(*argv: str, stdin: str | None = None, timeout: float = 60) -> str:
    res = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert res.returncode == 0, f"{argv[:4]} failed: {res.stderr.strip()}"
    return res.stdout


@pytest.fixture(params=["claude", "codex"])
def container(request: pytest.FixtureRequest, docker_client: object) -> Iterator[tuple[str, str]]:
    agent = request.param
    image = f"harness/{agent}:latest"
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                           timeout=60, check=False)
    need(probe.returncode == 0, f"{image} missing: run `harness images build {agent}`")
    name = f"harness-gw-e2e-{uuid.uuid4().hex[:8]}"
    labels = [a for k, v in owner_labels("tests-gateway").items()
              for a in ("--label", f"{k}={v}")]
    sh("docker", "run", "-d", "--rm", "--name", name, "--network", "none", *labels, image,
       "sleep", "900", timeout=120)
    try:
        sh("docker", "cp", str(RELAY_JS), f"{name}:/tmp/relay.js")
        yield agent, name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60,
                       check=False)


def seed(agent: str, name: str, key: TrialKey, url: str) -> list[str]:
    """Write the CLI's config in the container; return the tmux command to launch it."""
    if agent == "claude":
        cfg = json.dumps({"hasCompletedOnboarding": True, "theme": "dark",
                          "bypassPermissionsModeAccepted": True,
                          "customApiKeyResponses": {"approved": [key.last20], "rejected": []},
                          "projects": {"/workspace": {"hasTrustDialogAccepted": True}}})
        sh("docker", "exec", "-i", name, "sh", "-c", "cat > $HOME/.claude.json", stdin=cfg)
        sh("docker", "exec", "-i", name, "sh", "-c", "mkdir -p $HOME/.claude/skills/greeter "
           "&& cat > $HOME/.claude/skills/greeter/SKILL.md", stdin=SKILL)
        return ["env", f"ANTHROPIC_BASE_URL={url}", f"ANTHROPIC_API_KEY={key.key}",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1",
                "claude", "--dangerously-skip-permissions"]
    cfg = ('model = "harness-model"\nmodel_provider = "harness"\napproval_policy = "never"\n'
           'sandbox_mode = "danger-full-access"\n[model_providers.harness]\nname = "harness"\n'
           f'base_url = "{url}/v1"\nenv_key = "HARNESS_MODEL_KEY"\nwire_api = "responses"\n'
           '[projects."/workspace"]\ntrust_level = "trusted"\n'
           '[features]\ndaemon_auto_start = false\n')
    sh("docker", "exec", "-i", name, "sh", "-c",
       "mkdir -p $HOME/.codex && cat > $HOME/.codex/config.toml", stdin=cfg)
    sh("docker", "exec", "-i", name, "sh", "-c", "mkdir -p /workspace/.agents/skills/greeter "
       "&& cat > /workspace/.agents/skills/greeter/SKILL.md", stdin=SKILL)
    return ["env", f"HARNESS_MODEL_KEY={key.key}", "codex"]


def until(pred: Callable[[], bool], timeout_sec: float) -> bool:
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_cli_in_offline_container_through_relay(container: tuple[str, str]) -> None:
    agent, name = container
    idle = "? for shortcuts" if agent == "codex" else "bypass permissions on"

    def screen() -> str:
        return sh("docker", "exec", name, "tmux", "capture-pane", "-p", "-t", "a")

    def wait(text: str, timeout_sec: float = 60) -> None:
        deadline = time.monotonic() + timeout_sec
        while time.monotonic() < deadline:
            if text in screen():
                return
            time.sleep(0.3)
        raise AssertionError(f"no {text!r} on screen:\n{screen()}")

    with Gateway("scripted", policy=POLICY) as gw:
        key = gw.register_trial("e2e")
        argv = relay_argv(["docker", "exec", "-i", name], 0, "/tmp/relay.js")
        with Relay(argv, gw.url) as relay:
            cmd = seed(agent, name, key, f"http://127.0.0.1:{relay.port}")
            sh("docker", "exec", "-w", "/workspace", name, "tmux", "new-session", "-d", "-s",
               "a", "-x", "150", "-y", "40", "--", *cmd)
            wait(idle)
            for prompt, answer in (("hello there", "Hello from the harness gateway."),
                                   ("please make a file", "Done, file written.")):
                sh("docker", "exec", name, "tmux", "send-keys", "-t", "a", "-l", "--", prompt)
                time.sleep(0.3)
                sent = len(gw.exchanges("e2e"))
                for _ in range(3):  # Enter can be swallowed while the TUI is still settling
                    sh("docker", "exec", name, "tmux", "send-keys", "-t", "a", "Enter")
                    if until(lambda: len(gw.exchanges("e2e")) > sent, 5):  # noqa: B023
                        break
                wait(answer)
            assert sh("docker", "exec", name, "cat", "/workspace/hello.txt") == "hi\n"
        mains = [e for e in gw.exchanges("e2e") if e.kind == "main"]
        assert [(e.turn, e.step, e.rule) for e in mains] == \
            [(1, 0, "hello"), (2, 0, "write-file"), (2, 1, "after-tool")]
        assert "greeter" in mains[0].view.skill_names
        assert eventually(lambda: len([e for e in gw.events if e.kind == "final_answer"]) == 2)
