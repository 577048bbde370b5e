"""Gemini CLI (``gemini``, npm @google/gemini-cli) as data + a thin class.

Read from the pinned version's bundle (0.61.0) and checked against the real CLI:

- Auth: ``security.auth.selectedType = "gemini-api-key"`` in ~/.gemini/settings.json, with
  ``GEMINI_API_KEY`` (the Gateway's per-trial key) and ``GOOGLE_GEMINI_BASE_URL`` (the
  Gateway) in the environment; the SDK then calls ``/v1beta/models/<model>:...`` with the key
  in ``x-goog-api-key``. No auth dialog shows.
- Trust: ``~/.gemini/trustedFolders.json`` marks the workspace ``TRUST_FOLDER`` (folder trust
  stays on, as for a user): no trust dialog, and workspace skills and GEMINI.md load.
- Quiet: update checks, usage statistics and telemetry are off (here and in the image's
  /etc/gemini-cli/settings.json); ``GEMINI_CLI_NO_RELAUNCH`` keeps one node process instead of
  a parent that re-spawns itself with a bigger heap.
- Model: pinned (``--model``), never ``auto``: the auto alias asks a router model first.
  ``model.skipNextSpeakerCheck`` (the default) and ``model.disableLoopDetection`` keep side
  requests away, so every request the Gateway sees is the agent's own turn.
- Completion: an ``AfterAgent`` hook in settings.json runs ``harness-hook gemini-after-agent``
  with the event JSON on stdin, when the agent loop of a prompt ends.
- Transcript: ``~/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl``: a metadata line,
  then one line per message (``user`` / ``gemini`` / ``info`` / ``error``); a message is
  written again (same ``id``) when its tool calls or tokens are filled in, and ``{"$set":
  {...}}`` lines update the metadata. The last line of an id wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controllers.profiles import agent_base
from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    Dialog,
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileMap, FileProfile, wait_levers
from harness.episode import Episode, ToolCall, Turn

VERSION = "0.61.0"
GEMINI_HOME = f"{AGENT_HOME}/.gemini"

SPEC = ProfileSpec(
    name="gemini",
    image="gemini",
    binary="gemini",
    args=(),
    env={
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "GEMINI_TELEMETRY_ENABLED": "false",
        "NO_BROWSER": "true",
        "NO_UPDATE_NOTIFIER": "1",
    },
    # the input box's placeholder (the box stays drawn while the agent works: busy vetoes)
    idle=(r"Type your message or @path/to/file",),
    # "⠙ Thinking... (esc to cancel, 2s)" (but not our own AfterAgent hook running, "Executing
    # Hook: harness (esc to cancel, 0s)": the turn is over by then, and reading it as busy
    # made the hook's signal wait for the redraw), a prompt typed before start-up ended,
    # and start-up itself: until its config is initialised the CLI draws no header and no
    # history, only the input box (which already reads as idle), and a prompt sent then is
    # queued; so a screen that begins with the input area is still starting
    busy=(r"(?<!Hook: harness )\(esc to cancel", r"Waiting for user confirmation", r"Queued \(press ↑ to edit\)",
          r"\A\s*(?:─{10,}\s*\n)?(?:[^\n]*Ctrl\+Y[^\n]*\n)?\s*▄{10,}"),
    dialogs=(
        Dialog("trust-folder", r"Do you trust (the files in )?this folder\?.*Trust folder",
               ("Enter",), "1. Trust folder"),
    ),
    blocking_hints=(r"●\s*1\.\s+\S.*\n.*2\.\s+\S", r"\(y/n\)", r"Allow execution"),
    idle_masks=(r"\d+(\.\d+)?s\b", r"\d+% context left", r"\(\d+% context"),
    memory_file="GEMINI.md",
    user_skills_dir="~/.gemini/skills",
    project_skills_dir=".gemini/skills",
    transcript_glob=f"{GEMINI_HOME}/tmp/*/chats/session-*.jsonl",
    image_build=agent_base.on_agent_base({"GEMINI_CLI_VERSION": VERSION}),
    default_model="gemini-2.5-pro",
    wire_api="gemini",
    completion="hook",  # the AfterAgent hook in settings.json runs harness-hook
    startup_sec=180.0,  # a heavy start: missed 90 s on the shared CI machine under load
    home_state=(".gemini",),
)


def settings_json(ctx: LaunchContext) -> dict[str, Any]:
    """~/.gemini/settings.json: API-key auth, the AfterAgent hook, no side requests or nags."""
    hook = {"type": "command", "command": f"{HOOK_PATH} gemini-after-agent", "name": "harness"}
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": True}},
        "model": {"name": ctx.model, "skipNextSpeakerCheck": True, "disableLoopDetection": True},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False,
                    "checkpointing": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False, "logPrompts": False},
        "ide": {"enabled": False, "hasSeenNudge": True},
        # the tmux pane's TERM=screen would add a "Limited color support" warning on top
        "ui": {"theme": "Default", "hideTips": True, "showShortcutsHint": False,
               "showCompatibilityWarnings": False,
               # no spinner while the model thinks: its frames redrew the whole live area,
               # ~47 KB/s into the pane and a sixth of a core per waiting trial ("(esc to
               # cancel, 2s)" still shows, and still ticks once a second)
               **({"showSpinner": False, "loadingPhrases": "off"} if wait_levers() else {})},
        "hooksConfig": {"enabled": True, "notifications": False},
        "hooks": {"AfterAgent": [{"matcher": "*", "hooks": [hook]}]},
    }


def trusted_folders(ctx: LaunchContext) -> dict[str, str]:
    return {ctx.workdir: "TRUST_FOLDER"}


class GeminiProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {
            f"{GEMINI_HOME}/settings.json": (json.dumps(settings_json(ctx), indent=2), 0o644, "agent"),
            f"{GEMINI_HOME}/trustedFolders.json": (json.dumps(trusted_folders(ctx), indent=2), 0o644, "agent"),
        }

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        argv = [SPEC.binary, "--model", ctx.model]
        if ctx.permission_mode == "bypass":
            argv += ["--approval-mode", "yolo"]
        env = {**self.harness_env(ctx), "GOOGLE_GEMINI_BASE_URL": ctx.gateway_url,
               "GEMINI_API_KEY": ctx.api_key}
        return LaunchSpec(argv, env, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_gemini(path)


# ---------------------------------------------------------------- the transcript


def _text(content: Any) -> str:
    """A message's text: a string, or a list of parts whose ``text`` counts (thoughts do not)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        out = [str(p["text"]) for p in content if isinstance(p, dict)
               and isinstance(p.get("text"), str) and not p.get("thought")]
        out += [p for p in content if isinstance(p, str)]
        return "\n".join(t for t in out if t)
    return ""


def _result(result: Any) -> str:
    """A tool call's output: the ``functionResponse.response`` it sent back to the model."""
    items = result if isinstance(result, list) else [result]
    out: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        resp = (item.get("functionResponse") or {}).get("response")
        if isinstance(resp, dict):
            val = next((resp[k] for k in ("output", "error", "content") if k in resp), resp)
            out.append(val if isinstance(val, str) else json.dumps(val))
        elif isinstance(item.get("text"), str):
            out.append(item["text"])
    return "\n".join(out)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _responses(content: Any) -> list[dict[str, Any]]:
    parts = content if isinstance(content, list) else []
    return [p for p in parts if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]


def _records(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metadata, messages in first-seen order, each as last written)."""
    meta: dict[str, Any] = {}
    msgs: dict[str, dict[str, Any]] = {}
    for raw in path.read_text(errors="replace").splitlines():
        try:
            d = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write: keep what is whole
        if not isinstance(d, dict):
            continue
        if isinstance(d.get("$set"), dict):
            meta.update(d["$set"])
        elif "type" in d and "id" in d:
            msgs[str(d["id"])] = d
        elif "sessionId" in d:
            meta.update(d)
    return meta, list(msgs.values())


def parse_gemini(path: Path) -> Episode:
    """The Episode of one Gemini CLI session file (see the module docstring for its shape)."""
    meta, msgs = _records(path)
    ep = Episode(agent="gemini", session_id=str(meta.get("sessionId") or ""))
    turn: Turn | None = None
    calls: dict[str, ToolCall] = {}
    for m in msgs:
        kind = m.get("type")
        content = m.get("content")
        if kind == "user" and _responses(content):
            # the tool results sent back: a "user" message of functionResponse parts only
            for part in _responses(content):
                c = calls.get(str(part["functionResponse"].get("id") or ""))
                if c is not None and not c.output:
                    c.output = _result([part])
        elif kind == "user":
            turn = Turn(index=len(ep.turns), user_text=_text(content))
            ep.turns.append(turn)
        elif kind == "gemini":
            if turn is None:
                turn = Turn(index=0, user_text="")
                ep.turns.append(turn)
            ep.model = str(m.get("model") or ep.model)
            text = _text(m.get("content"))
            if text:
                turn.texts.append(text)
                turn.final_text = text
            for c in m.get("toolCalls") or []:
                if not isinstance(c, dict):
                    continue
                args = _dict(c.get("args"))
                call = ToolCall(id=str(c.get("id") or ""), name=str(c.get("name") or ""), input=args,
                                output=_result(c.get("result")), is_error=c.get("status") == "error")
                calls[call.id] = call
                turn.tool_calls.append(call)
                turn.final_text = ""  # text before a tool call is not the answer
            tokens = _dict(m.get("tokens"))
            ep.usage.input_tokens += int(tokens.get("input") or 0)
            ep.usage.output_tokens += int(tokens.get("output") or 0)
            ep.usage.cached_input_tokens += int(tokens.get("cached") or 0)
        elif kind == "error":
            ep.api_errors.append(_text(m.get("content"))[:500])
    return ep
