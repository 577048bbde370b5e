"""Qwen Code (``qwen``, npm @qwen-code/qwen-code) as data + a thin class.

A fork of Gemini CLI that speaks Chat Completions. Read from the pinned version's bundle
(0.24.4: its settings schema) and checked against the real CLI:

- Auth: ``security.auth.selectedType = "openai"`` in ~/.qwen/settings.json with
  ``OPENAI_API_KEY`` (the Gateway's per-trial key), ``OPENAI_BASE_URL`` (the Gateway's
  ``/v1``) and ``OPENAI_MODEL`` in the environment: no auth dialog; the CLI then posts
  ``/v1/chat/completions`` (wire ``openai_chat``) with ``Authorization: Bearer <key>``.
- Quiet: every side request is off, so the Gateway sees only the agent's own turns: usage
  statistics, telemetry, auto update, IDE, follow-up suggestions, speculation, session
  recap, managed auto-memory and auto-dream, auto skills, tool-use summaries, web search,
  loop detection and the next-speaker check (also in the image's system settings).
- Trust: folder trust stays off (the schema's default), so no trust dialog shows.
- Memory: ``QWEN.md`` and ``AGENTS.md`` (``context.fileName``); skills in ~/.qwen/skills and
  .qwen/skills.
- Completion: a claude-style ``Stop`` hook in settings.json runs ``harness-hook qwen-stop``
  with the event JSON on stdin when the agent loop of a prompt ends. The CLI appends its
  session records through a queue that fsyncs each line, so the file lags the hook (by
  seconds on a loaded machine, the whole turn when a replay answers at once): the hook
  fires the signal only once the file holds a closing answer for each of the session's
  Stops (see hook.sh), so a turn that is done is whole in the session file.
- Transcript: ``~/.qwen/projects/<sanitized cwd>/chats/<session id>.jsonl``, one record per
  line (see :func:`parse_qwen`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controllers.profiles import agent_base
from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileMap, FileProfile
from harness.episode import Episode, ToolCall, Turn

VERSION = "0.24.4"
QWEN_HOME = f"{AGENT_HOME}/.qwen"
MEMORY_FILES = ("QWEN.md", "AGENTS.md")

SPEC = ProfileSpec(
    name="qwen",
    image="qwen",
    binary="qwen",
    args=(),
    env={
        "QWEN_CODE_NO_RELAUNCH": "true",
        "NO_BROWSER": "true",
        "NO_UPDATE_NOTIFIER": "1",
        "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1",
    },
    # the input box's placeholder (the box stays drawn while the agent works: busy vetoes)
    idle=(r"Type your message or @path/to/file",),
    # "Compiling the 1s and 0s... (2s · ↑ 7 tokens · esc to cancel)", and the footer's
    # "Enter to steer · Ctrl+Q to queue" shown only while a turn runs
    busy=(r"esc to cancel\)", r"Enter to steer", r"Waiting for user confirmation"),
    dialogs=(),
    blocking_hints=(r"●\s*1\.\s+\S.*\n.*2\.\s+\S", r"\(y/n\)", r"Allow execution"),
    idle_masks=(r"\d+(\.\d+)?s\b", r"\d+% context left", r"\(\d+% context"),
    memory_file="QWEN.md",
    user_skills_dir="~/.qwen/skills",
    project_skills_dir=".qwen/skills",
    transcript_glob=f"{QWEN_HOME}/projects/*/chats/*.jsonl",
    image_build=agent_base.on_agent_base({"QWEN_CODE_VERSION": VERSION}),
    default_model="qwen3-coder-plus",
    wire_api="openai_chat",
    completion="hook",  # the Stop hook in settings.json runs harness-hook
    startup_sec=180.0,  # a heavy start: missed 90 s on the shared CI machine under load
    home_state=(".qwen",),
    # the Stop hook runs before the final answer is drawn (the spinner still shows) and the
    # CLI redraws only once the hook returned: seconds on a loaded machine, where 1 s (the
    # default) took the signal for a side thread's and left the turn to the screen fallback
    signal_settle_sec=5.0,
)


def settings_json(ctx: LaunchContext) -> dict[str, Any]:
    """~/.qwen/settings.json: OpenAI-compatible auth, the Stop hook, no side requests."""
    hook = {"type": "command", "command": f"{HOOK_PATH} qwen-stop", "name": "harness"}
    return {
        "security": {"auth": {"selectedType": "openai"}, "folderTrust": {"enabled": False}},
        "model": {"name": ctx.model, "skipNextSpeakerCheck": True, "skipLoopDetection": True,
                  "skipStartupContext": False},
        "general": {"enableAutoUpdate": False, "checkpointing": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False, "logPrompts": False},
        "ide": {"enabled": False, "hasSeenNudge": True},
        "ui": {"hideTips": True, "enableWelcomeBack": False, "enableUserFeedback": False,
               "enableFollowupSuggestions": False, "enableCacheSharing": False,
               "enableSpeculation": False, "showStatusInTitle": False},
        "memory": {"enableManagedAutoMemory": False, "enableManagedAutoDream": False,
                   "enableAutoSkill": False},
        "context": {"fileName": list(MEMORY_FILES)},
        "tools": {"webSearch": {"enabled": False}},
        "experimental": {"emitToolUseSummaries": False, "cron": False, "artifact": False},
        "hooks": {"Stop": [{"matcher": "", "hooks": [hook]}]},
    }


class QwenProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {
            f"{QWEN_HOME}/settings.json": (json.dumps(settings_json(ctx), indent=2), 0o644, "agent"),
        }

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        argv = [SPEC.binary, "--model", ctx.model]
        if ctx.permission_mode == "bypass":
            argv += ["--approval-mode", "yolo"]
        env = {**self.harness_env(ctx), "OPENAI_BASE_URL": f"{ctx.gateway_url.rstrip('/')}/v1",
               "OPENAI_API_KEY": ctx.api_key, "OPENAI_MODEL": ctx.model}
        return LaunchSpec(argv, env, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_qwen(path)


# ---------------------------------------------------------------- the transcript
#
# One JSON record per line, each with ``uuid``, ``parentUuid``, ``sessionId``, ``timestamp``,
# ``cwd``, ``version`` and a ``type``: ``user`` (``provenance: real_user`` for a typed
# prompt; ``message.parts`` as in the Gemini API), ``assistant`` (``model``, ``message.parts``
# with ``text`` and ``functionCall {id, name, args}``, ``usageMetadata``), ``tool_result``
# (``functionResponse {id, response.output}`` parts and ``toolCallResult.status``) and
# ``system`` (``subtype``: snapshots, ``ui_telemetry`` events such as ``qwen-code.api_error``).
# The CLI appends them as they happen, a moment after the screen shows them.


def records(path: Path) -> list[dict[str, Any]]:
    """The session file's records in file order; a line cut by a kill mid-write is skipped."""
    out: list[dict[str, Any]] = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            d = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict) and isinstance(d.get("type"), str):
            out.append(d)
    return out


def parts(rec: dict[str, Any]) -> list[dict[str, Any]]:
    msg = rec.get("message")
    ps = msg.get("parts") if isinstance(msg, dict) else None
    return [p for p in ps if isinstance(p, dict)] if isinstance(ps, list) else []


def text_of(rec: dict[str, Any]) -> str:
    """The record's visible text (thought parts are not)."""
    return "\n".join(str(p["text"]) for p in parts(rec)
                     if isinstance(p.get("text"), str) and not p.get("thought") and p["text"])


def calls_of(rec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, name, args) of each function call an assistant record made."""
    out = []
    for p in parts(rec):
        fc = p.get("functionCall")
        if isinstance(fc, dict):
            args = fc.get("args")
            out.append((str(fc.get("id") or ""), str(fc.get("name") or ""),
                        args if isinstance(args, dict) else {}))
    return out


def results_of(rec: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(call id, output text, is_error) of each function response a tool_result record holds."""
    status = (rec.get("toolCallResult") or {}).get("status") if isinstance(rec.get("toolCallResult"), dict) else None
    out = []
    for p in parts(rec):
        fr = p.get("functionResponse")
        if not isinstance(fr, dict):
            continue
        resp = fr.get("response")
        if isinstance(resp, dict):
            val = next((resp[k] for k in ("output", "error", "content") if k in resp), resp)
            text = val if isinstance(val, str) else json.dumps(val)
        else:
            text = str(resp or "")
        out.append((str(fr.get("id") or ""), text, status == "error" or "error" in (resp or {})))
    return out


def is_prompt(rec: dict[str, Any]) -> bool:
    """A prompt the user typed (not tool results, injected reminders or subagent input)."""
    return rec.get("type") == "user" and rec.get("provenance", "real_user") == "real_user" \
        and not any("functionResponse" in p for p in parts(rec))


def api_error(rec: dict[str, Any]) -> str | None:
    """The error text of a failed model request, from its ``ui_telemetry`` record."""
    if rec.get("type") != "system" or rec.get("subtype") != "ui_telemetry":
        return None
    ev = (rec.get("systemPayload") or {}).get("uiEvent") if isinstance(rec.get("systemPayload"), dict) else None
    if isinstance(ev, dict) and str(ev.get("event.name", "")).endswith("api_error"):
        return str(ev.get("error") or ev.get("error_message") or "api error")[:500]
    return None


def parse_qwen(path: Path) -> Episode:
    """The Episode of one Qwen Code session file (see above for its records)."""
    recs = records(path)
    ep = Episode(agent="qwen", session_id=next((str(r["sessionId"]) for r in recs if r.get("sessionId")), ""))
    turn: Turn | None = None
    calls: dict[str, ToolCall] = {}
    for r in recs:
        kind = r.get("type")
        if is_prompt(r):
            turn = Turn(index=len(ep.turns), user_text=text_of(r))
            ep.turns.append(turn)
        elif kind == "assistant":
            if turn is None:
                turn = Turn(index=0, user_text="")
                ep.turns.append(turn)
            ep.model = str(r.get("model") or ep.model)
            text = text_of(r)
            if text:
                turn.texts.append(text)
                turn.final_text = text
            for cid, name, args in calls_of(r):
                call = ToolCall(id=cid, name=name, input=args)
                calls[cid] = call
                turn.tool_calls.append(call)
                turn.final_text = ""  # text before a tool call is not the answer
            um = r.get("usageMetadata")
            u: dict[str, Any] = um if isinstance(um, dict) else {}
            ep.usage.input_tokens += int(u.get("promptTokenCount") or 0)
            ep.usage.output_tokens += int(u.get("candidatesTokenCount") or 0)
            ep.usage.cached_input_tokens += int(u.get("cachedContentTokenCount") or 0)
        elif kind == "tool_result":
            for cid, text, err in results_of(r):
                c = calls.get(cid)
                if c is not None:
                    c.output, c.is_error = text, err
        elif (msg := api_error(r)) is not None:
            ep.api_errors.append(msg)
    return ep
