"""Reading Codex sessions: ``$CODEX_HOME`` or ``~/.codex`` ->
``sessions/YYYY/MM/DD/rollout-*.jsonl`` and ``archived_sessions/*.jsonl``.

Format as written by codex 0.169 (seen in the real files the tests generate): each line is
``{timestamp, type, payload}``. ``session_meta`` gives the id, ``cwd``, ``cli_version``,
``source`` (subagent sessions are skipped) and ``git.{commit_hash, branch,
repository_url}``; ``turn_context`` the model; prompts come from ``event_msg``
``user_message`` (older CLIs) or ``item_completed`` with a ``UserMessage`` item (0.169), and
only when neither exists from ``response_item`` user messages minus the injected
``<environment_context>`` / AGENTS.md blocks; tool calls are ``function_call`` /
``custom_tool_call`` items joined to their ``*_output`` by ``call_id``; the exit code is in
the output text (``Process exited with code N``), its JSON ``metadata``, or the
``CommandExecution`` item; ``token_usage_record`` lines hold each response's usage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.harvest import evidence as ev
from harness.harvest.builder import SHELL_TOOLS, SessionBuilder
from harness.harvest.digest import Problem

KNOWN_TYPES = {
    "session_meta",
    "response_item",
    "event_msg",
    "turn_context",
    "compacted",
    "token_usage_record",
    "world_state",
}
_CONTEXT = (
    "<environment_context>",
    "<user_instructions>",
    "<permissions",
    "# AGENTS.md",
    "<skills_instructions>",
    "<INSTRUCTIONS>",
    "<user_shell_command>",
    "<turn_aborted>",
)
_EXIT = re.compile(r"(?:Process exited with code|Exit code:?)\s*(-?\d+)")


@dataclass(frozen=True)
class SessionFile:
    path: Path
    archived: bool = False
    skip: str | None = None


def home(explicit: Path | None, environ: dict[str, str]) -> Path:
    if explicit is not None:
        return explicit
    env = environ.get("CODEX_HOME")
    return Path(env) if env else Path(environ.get("HOME", str(Path.home()))) / ".codex"


def discover(codex_home: Path, problems: list[Problem]) -> Iterator[SessionFile]:
    for p in sorted((codex_home / "sessions").rglob("rollout-*.jsonl")):
        yield SessionFile(p)
    arch = codex_home / "archived_sessions"
    if arch.is_dir():
        for p in sorted(arch.rglob("*.jsonl")):
            yield SessionFile(p, archived=True)


def _text(content: Any) -> str:
    return ev.block_text(content, ("input_text", "output_text", "text", "Text"))


def is_subagent(source: Any) -> bool:
    if isinstance(source, dict):
        return "subagent" in {str(k).lower() for k in source}
    return isinstance(source, str) and source.lower().startswith("subagent")


def read(sf: SessionFile, problems: list[Problem]) -> tuple[SessionBuilder, str | None]:
    """Walk one rollout into a builder; returns a skip reason for subagent sessions."""
    b = SessionBuilder("codex", str(sf.path), archived=sf.archived)
    prompts: dict[str, list[tuple[str, Any]]] = {"event": [], "item": [], "response": []}
    events: list[tuple[str, Any, dict[str, Any]]] = []  # (kind, time, payload) in file order
    unknown: set[str] = set()
    skip = None
    meta_seen = False
    lines = 0
    for no, d in ev.read_jsonl(sf.path, problems):
        lines += 1
        kind, p = d.get("type"), d.get("payload")
        if not isinstance(kind, str) or kind not in KNOWN_TYPES:
            if str(kind) not in unknown:
                unknown.add(str(kind))
                problems.append(
                    Problem(file=str(sf.path), line=no, what=f"unknown line type {kind!r}; skipped")
                )
            continue
        if not isinstance(p, dict):
            problems.append(
                Problem(
                    file=str(sf.path),
                    line=no,
                    what=f"{kind} line without an object payload; skipped",
                )
            )
            continue
        at = b.seen(d.get("timestamp"))
        if kind == "session_meta" and not meta_seen:
            meta_seen = True
            b.session_id = str(p.get("id") or p.get("session_id") or "")
            b.cwd, b.cli_version = str(p.get("cwd") or ""), str(p.get("cli_version") or "")
            git = ev.obj(p.get("git"))
            b.git = git
            b.branch = str(git.get("branch")) if git.get("branch") else None
            if is_subagent(p.get("source")):
                skip = "subagent session (session_meta.source)"
        elif kind == "turn_context":
            b.model = str(p.get("model") or b.model)
        elif kind == "event_msg" and p.get("type") == "user_message":
            prompts["event"].append((str(p.get("message") or ""), at))
        elif (
            kind == "event_msg"
            and p.get("type") == "item_completed"
            and isinstance(p.get("item"), dict)
            and p["item"].get("type") == "UserMessage"
        ):
            prompts["item"].append((_text(p["item"].get("content")), at))
        elif kind == "response_item" and p.get("type") == "message" and p.get("role") == "user":
            text = _text(p.get("content"))
            if not text.lstrip().startswith(_CONTEXT):
                prompts["response"].append((text, at))
        events.append((kind, at, p))
    if not meta_seen and lines:
        problems.append(
            Problem(
                file=str(sf.path), what="no session_meta line; session id taken from the file name"
            )
        )
        m = re.search(
            r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", sf.path.name
        )
        b.session_id = m.group(1) if m else sf.path.stem
    source = next((k for k in ("event", "item", "response") if prompts[k]), "response")
    _replay(b, events, source)
    return b, skip


def _replay(b: SessionBuilder, events: list[tuple[str, Any, dict[str, Any]]], source: str) -> None:
    """Second pass in file order: prompts (from the chosen source), answers, tool calls."""
    usage_lines = 0
    last_total: dict[str, Any] = {}
    for kind, at, p in events:
        ptype = p.get("type")
        if source == "event" and kind == "event_msg" and ptype == "user_message":
            _prompt(b, str(p.get("message") or ""), at)
        elif (
            source == "item"
            and kind == "event_msg"
            and ptype == "item_completed"
            and isinstance(p.get("item"), dict)
            and p["item"].get("type") == "UserMessage"
        ):
            _prompt(b, _text(p["item"].get("content")), at)
        elif kind == "response_item" and ptype == "message" and p.get("role") == "user":
            if source == "response":
                _prompt(b, _text(p.get("content")), at)
        elif kind == "response_item" and ptype == "message" and p.get("role") == "assistant":
            b.answer(_text(p.get("content")))
        elif kind == "response_item" and ptype in (
            "function_call",
            "custom_tool_call",
            "local_shell_call",
        ):
            _call(b, p)
        elif kind == "response_item" and ptype in (
            "function_call_output",
            "custom_tool_call_output",
        ):
            out = p.get("output")
            text, code = _output(out)
            b.result(
                str(p.get("call_id") or ""), text, is_error=code not in (None, 0), exit_code=code
            )
        elif (
            kind == "event_msg"
            and ptype == "item_completed"
            and isinstance(p.get("item"), dict)
            and p["item"].get("type") == "CommandExecution"
        ):
            item = p["item"]
            c = b.by_id.get(str(item.get("id") or ""))
            if c is not None and isinstance(item.get("exit_code"), int):
                c.exit_code = item["exit_code"]
                c.is_error = c.exit_code != 0
        elif (
            kind == "event_msg"
            and ptype == "task_complete"
            and isinstance(p.get("last_agent_message"), str)
        ):
            b.answer(p["last_agent_message"])
        elif (
            kind == "event_msg"
            and ptype == "patch_apply_end"
            and isinstance(p.get("changes"), dict)
        ):
            for path in p["changes"]:
                b.touched(str(path))
        elif kind == "event_msg" and ptype in ("error", "stream_error"):
            b.api_errors.append(str(p.get("message") or "error")[:500])
        elif kind == "event_msg" and ptype == "token_count" and isinstance(p.get("info"), dict):
            last_total = p["info"].get("total_token_usage") or last_total
        elif kind == "token_usage_record" and isinstance(p.get("usage"), dict):
            usage_lines += 1
            u = p["usage"]
            b.tokens.input += int(u.get("input_tokens") or 0)
            b.tokens.output += int(u.get("output_tokens") or 0)
            b.tokens.cached_input += int(u.get("cached_input_tokens") or 0)
    if not usage_lines and last_total:  # older CLIs: only the running total in token_count
        b.tokens.input = int(last_total.get("input_tokens") or 0)
        b.tokens.output = int(last_total.get("output_tokens") or 0)
        b.tokens.cached_input = int(last_total.get("cached_input_tokens") or 0)


def _prompt(b: SessionBuilder, text: str, at: Any) -> None:
    """A prompt, unless it is a block codex injected (environment, AGENTS.md, skills)."""
    if text.strip() and not text.lstrip().startswith(_CONTEXT):
        b.prompt(text, at)


def _call(b: SessionBuilder, p: dict[str, Any]) -> None:
    name = str(p.get("name") or p.get("type"))
    raw = p.get("arguments") if p.get("arguments") is not None else p.get("input", p.get("action"))
    inp: dict[str, Any]
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
            inp = parsed if isinstance(parsed, dict) else {"value": parsed}
        except json.JSONDecodeError:
            inp = {"input": raw}  # custom tools (apply_patch) take free text
    else:
        inp = dict(raw) if isinstance(raw, dict) else {}
    cmd = ""
    if name in SHELL_TOOLS or p.get("type") == "local_shell_call":
        c = inp.get("cmd", inp.get("command"))
        cmd = " ".join(map(str, c)) if isinstance(c, list) else str(c or "")
        if (
            isinstance(c, list)
            and len(c) >= 3
            and c[0].endswith(("bash", "sh", "zsh"))
            and c[1] in ("-lc", "-c")
        ):
            cmd = str(c[2])
    b.call(str(p.get("call_id") or p.get("id") or ""), name, inp, cmd)


def _output(out: Any) -> tuple[str, int | None]:
    """The text of a tool output and its exit code, whichever way this CLI version wrote it."""
    if isinstance(out, dict):
        text = str(out.get("output") or out.get("content") or "")
        meta = ev.obj(out.get("metadata"))
        code = meta.get("exit_code")
        return text, code if isinstance(code, int) else None
    text = out if isinstance(out, str) else json.dumps(out)
    if text.startswith("{"):
        try:
            return _output(json.loads(text))
        except json.JSONDecodeError:
            pass
    m = _EXIT.search(text[:400])
    if m:
        body = text.split("Output:\n", 1)[1] if "Output:\n" in text else text
        return body, int(m.group(1))
    return text, None
