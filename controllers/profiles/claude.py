"""Claude Code (``claude``, npm @anthropic-ai/claude-code) as data + a thin class.

Seeded so a normal run shows no onboarding, theme, API-key, trust, bypass or update
dialog (keys seen on 2.1.197, see shared/PROTOCOLS.md). The dialogs table answers the
ones that still appear after a version bump, by their text, with the right option.
"""

from __future__ import annotations

import json
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
from harness.episode import Episode, parse_claude

SPEC = ProfileSpec(
    name="claude",
    image="claude",
    binary="claude",
    args=(),
    env={
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        # a sandbox has no network and no IDE: skip the official plugin marketplace clone
        # (a git clone over https, then ssh, every start) and the IDE auto-connect
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
        "CLAUDE_CODE_AUTO_CONNECT_IDE": "false",
    },
    # "❯ 1. ..." is a menu's cursor, not the input prompt: an unknown menu must read as blocked
    idle=(r"^❯(?!\s*\d+\.\s)\s", r"\? for shortcuts", r"bypass permissions on"),
    busy=(r"esc to interrupt", r"^\s*[✻✶✳✢·*✽]\s+\S+…", r"⎿\s+Running…"),
    dialogs=(
        Dialog("api-key", r"Do you want to use this API key", ("Up", "Enter"), "1. Yes"),
        Dialog("bypass-warning", r"Bypass Permissions mode.*Yes, I accept", ("Down", "Enter"), "2. Yes, I accept"),
        Dialog("trust-folder", r"(Do you trust the files in this folder|Is this a project you created or one you trust)",
               ("Enter",), "1. Yes, proceed"),
        Dialog("theme", r"Choose the text style", ("Enter",), "default theme"),
        Dialog("security-notes", r"Security notes:.*Press Enter to continue", ("Enter",), "continue"),
        Dialog("terminal-setup", r"Use Claude Code's terminal setup\?", ("Escape",), "skip"),
    ),
    blocking_hints=(r"❯\s*1\.\s+\S.*\n.*2\.\s+\S", r"Enter to confirm", r"\(y/n\)"),
    # a permission menu in place of the input box (e.g. "Dangerous rm operation on critical
    # path: /tmp/* / Do you want to proceed? / ❯ 1. Yes / 2. No", seen on 2.1.197 in bypass mode)
    menus=(r"Do you want to proceed\?\s*\n\s*❯\s*1\.\s+\S", r"^\s*❯\s*1\.\s+\S.*\n\s*2\.\s+\S.*(?:\n.*){0,3}\n.*Esc to cancel"),
    idle_masks=(r"[✻✶✳✢·*✽]\s+\S+…\s*\([^)]*\)", r"\d+s\b"),
    memory_file="CLAUDE.md",
    user_skills_dir="~/.claude/skills",
    project_skills_dir=".claude/skills",
    transcript_glob=f"{AGENT_HOME}/.claude/projects/*/*.jsonl",
    image_build=ImageBuild(build_args={"CLAUDE_CODE_VERSION": "2.1.197"}),
    default_model="claude-sonnet-4-5",
    wire_api="anthropic",
    completion="hook",  # the Stop hook in settings.json runs harness-hook
    home_state=(".claude", ".claude.json"),
)


#: JavaScriptCore settings for claude's Bun binary, read by Bun from ``BUN_JSC_*`` (issue 14).
#: A short trial is mostly claude starting, and much of that was the engine's optimising
#: compilers (the DFG and FTL tiers, on their own thread) and its concurrent collector,
#: working on code and objects that live for seconds. Without the DFG tier (FTL goes with
#: it), with the collector on the main thread and 128 MiB of heap before collections grow
#: costly, claude's trials took less CPU: ``bench/scaling.py``'s instant trial 1.19 -> 0.97
#: CPU-s, the demo suite 1.87 -> 1.60, a 15-round session 2.87 -> 2.10, and a 60-round one
#: printing 60,000 lines no more (7.3-8.0 -> 6.9). JIT tiers and collector timing do not
#: change what the program does: the same tool calls and passes with and without.
#: opencode (also Bun) got slower with them (8.4 -> 10.2 CPU-s), so they are claude's alone.
BUN_START_LEVERS = {
    "BUN_JSC_useDFGJIT": "0",
    "BUN_JSC_useConcurrentGC": "0",
    "BUN_JSC_largeHeapSize": str(128 << 20),
}


def claude_json(ctx: LaunchContext) -> dict[str, object]:
    """~/.claude.json: onboarding done, key approved (last 20 chars), folder trusted."""
    return {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.197",
        "theme": "dark",
        "numStartups": 1,
        "autoUpdates": False,
        "bypassPermissionsModeAccepted": True,
        "hasSeenTasksHint": True,
        "shiftEnterKeyBindingInstalled": True,
        "customApiKeyResponses": {"approved": [ctx.api_key[-20:]], "rejected": []},
        "projects": {
            ctx.workdir: {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "projectOnboardingSeenCount": 1,
                "allowedTools": [],
            }
        },
    }


def settings_json(ctx: LaunchContext) -> dict[str, object]:
    """~/.claude/settings.json: the Stop hook that signals the harness, no co-author noise,
    and no animation: while the model thinks, claude's spinner and its tips redrew the screen
    many times a second, which was most of what a waiting trial cost (issue 14)."""
    calm = {"prefersReducedMotion": True, "spinnerTipsEnabled": False} if wait_levers() else {}
    return {
        **calm,
        "hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": f"{HOOK_PATH} claude-stop"}]}]},
        "includeCoAuthoredBy": False,
        "skipDangerousModePermissionPrompt": True,
        "permissions": {"defaultMode": "bypassPermissions" if ctx.permission_mode == "bypass" else "default"},
    }


class ClaudeProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {
            f"{AGENT_HOME}/.claude.json": (json.dumps(claude_json(ctx), indent=2), 0o600, "agent"),
            f"{AGENT_HOME}/.claude/settings.json": (json.dumps(settings_json(ctx), indent=2), 0o644, "agent"),
        }

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        argv = [SPEC.binary, "--model", ctx.model]
        if ctx.permission_mode == "bypass":
            argv.append("--dangerously-skip-permissions")
        env = {**self.harness_env(ctx), **(BUN_START_LEVERS if wait_levers() else {}),
               "ANTHROPIC_BASE_URL": ctx.gateway_url, "ANTHROPIC_API_KEY": ctx.api_key}
        return LaunchSpec(argv, env, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_claude(path)
