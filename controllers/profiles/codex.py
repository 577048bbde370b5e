"""OpenAI Codex (``codex``, npm @openai/codex) as data + a thin class.

config.toml points a ``[model_providers.harness]`` at the Gateway with
``wire_api = "responses"``, trusts the workspace, never asks for approval, and runs
``notify`` (our hook) on every completed turn.
"""

from __future__ import annotations

from pathlib import Path

from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    Dialog,
    ImageBuild,
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileMap, FileProfile, wait_levers
from harness.episode import Episode, parse_codex

CODEX_HOME = f"{AGENT_HOME}/.codex"
KEY_ENV = "HARNESS_MODEL_KEY"

SPEC = ProfileSpec(
    name="codex",
    image="codex",
    binary="codex",
    args=(),
    env={"CODEX_HOME": CODEX_HOME, "NO_UPDATE_NOTIFIER": "1"},
    # the input box is drawn before start-up ends; the footer appears only once it has
    idle=(r"\? for shortcuts",),
    busy=(r"esc to interrupt", r"•\s*Working\s*\(", r"Waiting for startup"),
    dialogs=(
        Dialog("trust-directory", r"(Do you trust the contents of this directory|allow Codex to work in this folder)",
               ("Enter",), "1. Yes, continue"),
        Dialog("update-available", r"Update available!.*Skip", ("Down", "Enter"), "2. Skip"),
        Dialog("model-migration", r"Try new model.*Use existing model", ("Down", "Enter"), "2. Use existing model"),
    ),
    blocking_hints=(r"›\s*1\.\s+\S.*\n.*2\.\s+\S", r"Press enter to continue", r"\(y/n\)"),
    idle_masks=(r"\(\d+s\s*•", r"\d{2}:\d{2}"),
    memory_file="AGENTS.md",
    user_skills_dir="~/.agents/skills",
    project_skills_dir=".agents/skills",
    transcript_glob=f"{CODEX_HOME}/sessions/*/*/*/rollout-*.jsonl",
    image_build=ImageBuild(build_args={"CODEX_VERSION": "0.169.0"}),
    default_model="gpt-5-codex",
    wire_api="openai",
    completion="hook",  # `notify` in config.toml runs harness-hook
    home_state=(".codex",),
)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_toml(ctx: LaunchContext) -> str:
    approval = "never" if ctx.permission_mode == "bypass" else "on-request"
    sandbox = "danger-full-access" if ctx.permission_mode == "bypass" else "workspace-write"
    return "\n".join([
        f"model = {_q(ctx.model)}",
        'model_provider = "harness"',
        f"approval_policy = {_q(approval)}",
        f"sandbox_mode = {_q(sandbox)}",
        f"notify = [{_q(HOOK_PATH)}, \"codex-notify\"]",
        "check_for_update_on_startup = false",
        "",
        "[model_providers.harness]",
        'name = "harness"',
        f"base_url = {_q(ctx.gateway_url.rstrip('/') + '/v1')}",
        f"env_key = {_q(KEY_ENV)}",
        'wire_api = "responses"',
        "request_max_retries = 4",
        "stream_max_retries = 4",
        "",
        f"[projects.{_q(ctx.workdir)}]",
        'trust_level = "trusted"',
        "",
        # no background app-server: a daemon outlives the session, and the next session in
        # a reused (warm) sandbox then fails with "app server did not become ready"
        "[features]",
        "daemon_auto_start = false",
        "",
        # no animation or tips while the model thinks: the redraws were what a waiting
        # trial cost (issue 14)
        *(["[tui]", "animations = false", "show_tooltips = false", ""] if wait_levers() else []),
    ])


class CodexProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {f"{CODEX_HOME}/config.toml": (config_toml(ctx), 0o644, "agent")}

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        return LaunchSpec([SPEC.binary], {**self.harness_env(ctx), KEY_ENV: ctx.api_key}, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_codex(path)
