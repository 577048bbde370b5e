"""opencode (``opencode``, npm opencode-ai / opencode-linux-x64) as data + a thin class.

Read from the pinned version's binary (1.18.33) and checked against the real CLI:

- Provider: a custom ``harness`` provider on the ``@ai-sdk/openai-compatible`` package, which
  the binary bundles (no package is installed at run time for it), with ``baseURL`` at the
  Gateway's ``/v1`` and the per-trial key; the Gateway sees ``POST /v1/chat/completions``
  (the ``openai_chat`` wire). ``enabled_providers`` keeps every other provider off and
  ``small_model`` is the same model, so title requests go to the Gateway too.
- Quiet: ``OPENCODE_DISABLE_AUTOUPDATE``, ``..._MODELS_FETCH`` (no models.dev list),
  ``..._SHARE``, ``..._LSP_DOWNLOAD``, ``autoupdate: false``, ``share: disabled``; no LSP or
  formatter servers; ripgrep is Debian's (on PATH, so none is downloaded).
- Permissions: every tool ``allow`` under ``bypass``, so no permission menu opens.
- Completion: a plugin in ``~/.config/opencode/plugin/`` handles ``session.idle``: it writes
  the session's messages and parts (as opencode's own events carry them) to
  ``~/.harness/opencode/<session id>.json`` and then runs ``harness-hook
  opencode-session-idle``. opencode's own store is a binary sqlite file
  (``~/.local/share/opencode/opencode.db``); harvest reads that one
  (``harness/harvest/opencode.py``) into the same shape.
- Transcript: that JSON file, ``{"info": session, "messages": [{"info": message, "parts":
  [part, ...]}]}``; parts of type ``text`` (the answer), ``tool`` (``tool``, ``callID``,
  ``state.input``/``output``/``status``), ``step-finish`` (``tokens``) and others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controllers.profiles import agent_base
from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    STATE_DIR,
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileMap, FileProfile, wait_levers
from harness.episode import Episode, ToolCall, Turn

VERSION = "1.18.33"
#: the npm registry's dist.integrity of opencode-linux-x64@VERSION (checked at image build)
INTEGRITY_X64 = ("sha512-q/t/3p2CTxOT9y2kvjesb/LZab2+1eqlhhWA02Be6mjTtmYtNBcBsrI5yDo4Fw7ZSPBW2o"
                 "yMIGMNRqiKQjiAWw==")
CONFIG_DIR = f"{AGENT_HOME}/.config/opencode"
#: where opencode's TUI keeps its toggles (kv.json: the command palette's "animations" etc.)
TUI_STATE_DIR = f"{AGENT_HOME}/.local/state/opencode"
DATA_DIR = f"{AGENT_HOME}/.local/share/opencode"
PROVIDER = "harness"
KEY_ENV = "HARNESS_MODEL_KEY"
PLUGIN_JS = Path(__file__).with_name("opencode_plugin.js").read_text()

SPEC = ProfileSpec(
    name="opencode",
    image="opencode",
    binary="opencode",
    args=(),
    env={
        "OPENCODE_DISABLE_AUTOUPDATE": "true",
        "OPENCODE_DISABLE_MODELS_FETCH": "true",
        "OPENCODE_DISABLE_SHARE": "true",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "true",
        "OPENCODE_DISABLE_TERMINAL_TITLE": "true",
        "NO_UPDATE_NOTIFIER": "1",
    },
    # the input box with our provider's model under it: before its config is loaded the box
    # is drawn without it (a prompt sent then is not taken), so "ctrl+p commands" alone is not
    idle=(r"· [^\n]*Harness Gateway[\s\S]*ctrl\+p commands",),
    busy=(r"esc interrupt", r"esc again to interrupt"),
    dialogs=(),
    blocking_hints=(r"Permission required", r"Allow once"),
    idle_masks=(r"\d+(\.\d+)?s\b", r"\d+%"),
    memory_file="AGENTS.md",
    # opencode reads skills from ~/.agents/skills and .agents/skills too; its own config dirs
    # (~/.config/opencode/skills, .opencode/skills) would each get a dependency install
    user_skills_dir="~/.agents/skills",
    project_skills_dir=".agents/skills",
    transcript_glob=f"{STATE_DIR}/opencode/ses_*.json",
    image_build=agent_base.on_agent_base({"OPENCODE_VERSION": VERSION,
                                          "OPENCODE_INTEGRITY_X64": INTEGRITY_X64}),
    default_model="gpt-4.1",
    wire_api="openai_chat",
    completion="hook",  # the plugin's session.idle handler runs harness-hook
    startup_sec=180.0,  # a heavy start: missed 90 s on the shared CI machine under load
    # the plugin's session.idle handler runs harness-hook before the TUI redraws its idle
    # prompt; at load 8-15 on 2 cores that redraw came more than the default 1 s after the
    # signal, so the signal was taken for a side thread's and a text turn ended "screen"
    signal_settle_sec=10.0,
    # its config, store (~/.local/share/opencode), state and cache live under ~/.config,
    # ~/.local and ~/.cache, which every trial's reset already wipes (COMMON_HOME_STATE)
    home_state=(),
)


def opencode_json(ctx: LaunchContext) -> dict[str, Any]:
    """~/.config/opencode/opencode.json: the Gateway as the only provider, nothing fetched."""
    allow = ctx.permission_mode == "bypass"
    model = {"name": ctx.model, "tool_call": True, "reasoning": False, "attachment": False,
             "temperature": True, "limit": {"context": 128000, "output": 16384}}
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"{PROVIDER}/{ctx.model}",
        "small_model": f"{PROVIDER}/{ctx.model}",
        "enabled_providers": [PROVIDER],
        "provider": {PROVIDER: {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Harness Gateway",
            "options": {"baseURL": ctx.gateway_url.rstrip("/") + "/v1",
                        "apiKey": "{env:" + KEY_ENV + "}"},
            "models": {ctx.model: model},
        }},
        "autoupdate": False,
        "share": "disabled",
        "lsp": False,
        "formatter": False,
        # no git snapshot of the workspace before and after every step (the harness diffs
        # the workspace itself): on a loaded machine it delayed the first request by seconds
        "snapshot": False,
        "permission": {"*": "allow"} if allow else {},
    }


def plugin_deps_files() -> FileMap:
    """The npm state that tells opencode its config dir's plugin dependency is in place.

    Why: at start-up opencode runs an npm install of ``@opencode-ai/plugin`` in every config
    dir it can write unless ``node_modules`` exists and ``package-lock.json`` lists every
    dependency, and it loads no plugin until that install ends; offline that install never
    ends (the TUI hung before drawing). Our plugin imports nothing from that package (it is
    TypeScript types), so the lock states the dependency and no install is attempted."""
    deps = {"@opencode-ai/plugin": VERSION}
    lock = {"name": "opencode", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"dependencies": deps}}}
    return {
        f"{CONFIG_DIR}/package.json": (json.dumps({"dependencies": deps}, indent=2), 0o644, "agent"),
        f"{CONFIG_DIR}/package-lock.json": (json.dumps(lock, indent=2), 0o644, "agent"),
        f"{CONFIG_DIR}/node_modules/.package-lock.json":
            (json.dumps({"name": "opencode", "lockfileVersion": 3, "packages": {}}), 0o644, "agent"),
    }


def calm_files() -> FileMap:
    """The TUI's own "animations off" toggle, as its command palette would store it.

    Why: while the model thinks, opencode's spinner redraws every 40 ms (~8 KB/s into the
    pane) and a waiting trial kept about a third of a core busy; with the toggle off it
    shows a still "[⋯]" beside the same "esc interrupt". Off with the wait levers."""
    if not wait_levers():
        return {}
    kv = {"animations_enabled": False}
    return {f"{TUI_STATE_DIR}/kv.json": (json.dumps(kv), 0o644, "agent")}


class OpencodeProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {
            f"{CONFIG_DIR}/opencode.json": (json.dumps(opencode_json(ctx), indent=2), 0o644, "agent"),
            f"{CONFIG_DIR}/plugin/harness.js": (PLUGIN_JS.replace("@HOOK@", HOOK_PATH), 0o644, "agent"),
            **plugin_deps_files(),
            **calm_files(),
        }

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        argv = [SPEC.binary, "--model", f"{PROVIDER}/{ctx.model}"]
        env = {**self.harness_env(ctx), KEY_ENV: ctx.api_key}
        return LaunchSpec(argv, env, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_opencode(path)


# ---------------------------------------------------------------- the transcript


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text_parts(parts: list[dict[str, Any]]) -> str:
    out = [str(p.get("text") or "") for p in parts
           if p.get("type") == "text" and not p.get("synthetic") and not p.get("ignored")]
    return "\n".join(t for t in out if t)


#: the error opencode stores on the answer it was writing when it was interrupted (Esc, or
#: the harness at a trial's deadline): the interrupt, not the model API failing
ABORTED = "MessageAbortedError"


def api_error(value: Any) -> str | None:
    """The model API error an assistant message's ``error`` records, or None: none, or the
    interrupt. Why the interrupt is left out: an error there makes the trial infra_error
    ("model API error: Aborted"), so a CLI the harness stopped at the deadline while it had
    not yet asked the model was blamed on the model instead of timing out."""
    err = _dict(value)
    if not err or err.get("name") == ABORTED:
        return None
    data_msg = _dict(err.get("data")).get("message")
    return str(data_msg or err.get("name") or err)[:500]


def session_of(data: dict[str, Any], agent: str = "opencode") -> Episode:
    """The Episode of one session as ``{"info": ..., "messages": [{"info", "parts"}]}``: the
    transcript the plugin writes, and what harvest builds from opencode's sqlite store."""
    info = _dict(data.get("info"))
    ep = Episode(agent=agent, session_id=str(info.get("id") or ""))
    turn: Turn | None = None
    msgs = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    msgs.sort(key=lambda m: (_dict(_dict(m.get("info")).get("time")).get("created") or 0,
                             str(_dict(m.get("info")).get("id") or "")))
    for m in msgs:
        mi = _dict(m.get("info"))
        parts = [p for p in m.get("parts") or [] if isinstance(p, dict)]
        if mi.get("role") == "user":
            turn = Turn(index=len(ep.turns), user_text=_text_parts(parts))
            ep.turns.append(turn)
            continue
        if mi.get("role") != "assistant":
            continue
        if turn is None:
            turn = Turn(index=0, user_text="")
            ep.turns.append(turn)
        ep.model = str(mi.get("modelID") or ep.model)
        err = api_error(mi.get("error"))
        if err:
            ep.api_errors.append(err)
        for p in parts:
            kind = p.get("type")
            if kind == "text" and p.get("text") and not p.get("synthetic"):
                turn.texts.append(str(p["text"]))
                turn.final_text = str(p["text"])
            elif kind == "tool":
                state = _dict(p.get("state"))
                status = state.get("status")
                out = state.get("output") if status == "completed" else state.get("error")
                turn.tool_calls.append(ToolCall(
                    id=str(p.get("callID") or p.get("id") or ""), name=str(p.get("tool") or ""),
                    input=_dict(state.get("input")), output=str(out or ""),
                    is_error=status == "error"))
                turn.final_text = ""  # text before a tool call is not the answer
            elif kind == "step-finish":
                tokens = _dict(p.get("tokens"))
                cache = _dict(tokens.get("cache"))
                ep.usage.input_tokens += int(tokens.get("input") or 0)
                ep.usage.output_tokens += int(tokens.get("output") or 0)
                ep.usage.cached_input_tokens += int(cache.get("read") or 0)
    return ep


def parse_opencode(path: Path) -> Episode:
    """The Episode of the plugin's session file; an empty one when it is cut or not JSON."""
    try:
        data = json.loads(path.read_text(errors="replace"))
    except (OSError, json.JSONDecodeError):
        return Episode(agent="opencode")
    return session_of(data if isinstance(data, dict) else {})
