"""Helpers for the real-CLI tests (fixtures are in conftest.py): a ``Rig`` is one warm
container per agent per module.

Why share: starting a container, copying the relay and launching a CLI costs seconds, and
CI has 45 minutes on 2 cores for everything. A module gets one ``Rig`` per agent (a
scripted Gateway, a ``--network none`` container reached through the stdio relay); each
test starts its own CLI session in it and ``warm.reset()`` wipes the agent's home and the
workspace between tests, so no test sees another's files or session.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from controllers.profiles import aider as aider_mod
from controllers.profiles import claude as claude_mod
from controllers.profiles import codex as codex_mod
from controllers.profiles import gemini as gemini_mod
from controllers.profiles import opencode as opencode_mod
from controllers.profiles import qwen as qwen_mod
from controllers.profiles.base import LaunchContext, Skill, Variant
from controllers.profiles.driver import AgentDriver
from controllers.sandbox import SandboxLimits
from controllers.tmux.controller import SandboxTmuxController
from harness.gateway import Gateway
from harness.providers.docker import prepare
from harness.providers.warm import RELAY_PORT, WORKDIR, WarmSandbox
from harness.tasks.schema import Task

#: the agents the shared matrix (conftest's ``rig``) runs: every agent with a real CLI.
#: aider answers each message with one request; the driver's continue message (its
#: profile's ``FollowUp``) makes its tool rounds round trips as the others' are
AGENTS = ("claude", "codex", "gemini", "qwen", "opencode", "aider")
MODELS = {"claude": "claude-sonnet-4-5", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
          "opencode": "gpt-4.1", "aider": "gpt-4.1", "qwen": "qwen3-coder-plus"}
PROFILES: dict[str, Any] = {"claude": claude_mod.ClaudeProfile, "codex": codex_mod.CodexProfile,
                            "gemini": gemini_mod.GeminiProfile,
                            "opencode": opencode_mod.OpencodeProfile,
                            "aider": aider_mod.AiderProfile,
                            "qwen": qwen_mod.QwenProfile}
FALLBACK_POLICY = {"version": 1, "rules": [], "default": {"text": "Nothing scripted for that."}}
PATH = "/opt/harness/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Rig:
    """One agent's warm container + the scripted Gateway it can reach (and nothing else)."""

    agent: str
    gateway: Gateway
    warm: WarmSandbox
    client: Any
    image: str
    profile: Any = None
    sessions: list[Session] = field(default_factory=list)

    @property
    def box(self) -> Any:
        return self.warm.box

    def trial_id(self, name: str) -> str:
        return f"{self.agent}-{name}-{uuid.uuid4().hex[:6]}"

    def session(self, policy: dict[str, Any], *, variant: Variant | None = None,
                gateway: Gateway | None = None, name: str = "t", **driver_kw: Any) -> Session:
        """A fresh CLI session on a clean home and workspace, ready for its first turn."""
        self.warm.reset()
        gw = gateway or self.gateway
        tid = self.trial_id(name)
        key = gw.register_trial(tid, policy=policy) if gw.mode == "scripted" else gw.register_trial(tid)
        if variant is not None:
            self.profile.install_variant(self.box, variant, WORKDIR)
        ctl = SandboxTmuxController(self.box, transport="control")
        s = Session(self, gw, tid, key.key, ctl)
        self.sessions.append(s)
        ctx = LaunchContext(gateway_url=f"http://127.0.0.1:{RELAY_PORT}", api_key=key.key,
                            model=MODELS[self.agent], workdir=WORKDIR, tmux_socket=ctl.socket_path)
        self.profile.configure(self.box, ctx)
        launch = self.profile.launch(ctx)
        launch.env.setdefault("PATH", PATH)
        ctl.start(launch.argv, env=launch.env, cwd=launch.cwd, width=200, height=50)
        s.driver = AgentDriver(self.profile.spec, ctl, self.box,
                               activity=lambda: len(gw.exchanges(tid)), **driver_kw)
        s.driver.wait_ready(timeout_sec=self.profile.spec.startup_sec)
        return s

    def close_sessions(self) -> None:
        for s in self.sessions:
            s.close()
        self.sessions.clear()


@dataclass
class Session:
    rig: Rig
    gateway: Gateway
    trial_id: str
    key: str
    ctl: SandboxTmuxController
    driver: Any = None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer must not hide the test's failure
            self.ctl.close()

    def exchanges(self) -> list[Any]:
        return self.gateway.exchanges(self.trial_id)

    def file_text(self, rel: str) -> str | None:
        r = self.rig.box.exec(["cat", f"{WORKDIR}/{rel}"])
        return r.stdout if r.ok else None


class EnvProfile:
    """A profile that launches its CLI with extra env (e.g. fewer retries), otherwise the same."""

    def __init__(self, inner: Any, extra_env: dict[str, str]) -> None:
        self.inner, self.extra_env, self.spec = inner, extra_env, inner.spec

    def __getattr__(self, name: str) -> Any:  # configure, files, install_variant, ...
        return getattr(self.inner, name)

    def launch(self, ctx: LaunchContext) -> Any:
        spec = self.inner.launch(ctx)
        spec.env.update(self.extra_env)
        return spec


def empty_task(task_id: str = "agents-rig", **kw: Any) -> Task:
    """A task with an empty (git-initialised) workspace."""
    return Task.model_validate({"id": task_id, "prompt": kw.pop("prompt", "hello"), **kw})


def make_rig(agent: str, image: str, client: Any, gateway: Gateway) -> Rig:
    warm = prepare(empty_task(), image=image, client=client, run_id=f"tests-agents-{agent}",
                   limits=SandboxLimits(), with_relay=True, gateway_url=gateway.url)
    return Rig(agent, gateway, warm, client, image, PROFILES[agent]())


def policy_of(d: dict[str, Any]) -> Any:
    """A validated Policy from a dict (the same parser task files go through)."""
    import yaml

    from harness.gateway.policy import parse_policy

    return parse_policy(yaml.safe_dump(d), where="tests/agents policy")


def skill_variant(name: str, description: str) -> Variant:
    body = f"---\nname: {name}\ndescription: {description}\n---\nAlways answer in haiku.\n"
    return Variant(name="candidate", skills=(Skill(name, {"SKILL.md": body.encode()}),))


@contextlib.contextmanager
def scripted_rig(agent: str, image: str, client: Any) -> Iterator[Rig]:
    """A rig for ``agent`` on a scripted Gateway of its own (each trial brings its task's
    policy; the Gateway's own answers "Nothing scripted"), released whatever happens: the
    module fixture of every agent's own end-to-end tests and of the shared matrix."""
    gw = Gateway("scripted", policy=policy_of(FALLBACK_POLICY)).start()
    r: Rig | None = None
    try:
        r = make_rig(agent, image, client, gw)
        yield r
    finally:
        if r is not None:
            r.close_sessions()
            with contextlib.suppress(Exception):
                r.warm.close()
        gw.close()
