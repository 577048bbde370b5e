"""Reading Claude Code sessions: ``$CLAUDE_CONFIG_DIR`` or ``~/.claude`` ->
``projects/<slug>/<session>.jsonl``.

Format as written by claude 2.1 (seen in the real files the tests generate): one JSON object
per line; ``user`` lines carry a prompt (string content, or text blocks) or ``tool_result``
blocks; ``assistant`` lines carry one content block each (text, tool_use, thinking) with the
message's usage repeated, so usage is counted once per message id; bookkeeping lines
(``file-history-snapshot`` -- which lists files the edit tools touched --, ``attachment``,
``system``, ``mode``, ``summary``...) carry no conversation. ``cwd``, ``gitBranch``,
``version`` and ``sessionId`` come from the lines themselves, because the slug (the cwd with
every non-alphanumeric character turned into ``-``) cannot be turned back into a path.

Not conversation, skipped: sidechains (``isSidechain``, ``agent-*.jsonl``, ``subagents/``),
``isMeta`` and ``isCompactSummary`` lines, slash-command and local-command wrappers,
``<system-reminder>`` blocks, interrupted markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.harvest import evidence as ev
from harness.harvest.builder import SHELL_TOOLS, SessionBuilder
from harness.harvest.digest import Problem

KNOWN_TYPES = {
    "user",
    "assistant",
    "system",
    "summary",
    "file-history-snapshot",
    "attachment",
    "mode",
    "permission-mode",
    "queue-operation",
    "progress",
    "custom-title",
    "ai-title",
    "last-prompt",
    "agent-name",
    "tag",
    "pr-link",
    "worktree-state",
    "result",
}
_WRAPPERS = (
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<bash-input>",
    "<bash-stdout>",
    "<bash-stderr>",
    "Caveat: The messages below were generated",
    "[Request interrupted by user",
    "<user-memory-input>",
    "<task-notification>",
)
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_EXIT = re.compile(r"^(?:Error: )?Exit code (\d+)")


@dataclass(frozen=True)
class SessionFile:
    path: Path
    skip: str | None = None  # a reason when the file is not a main session (sidechain...)
    slug: str = ""


def home(explicit: Path | None, environ: dict[str, str]) -> Path:
    if explicit is not None:
        return explicit
    env = environ.get("CLAUDE_CONFIG_DIR")
    return Path(env) if env else Path(environ.get("HOME", str(Path.home()))) / ".claude"


def slug_of(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", path)


def discover(
    claude_home: Path, problems: list[Problem], project: str | None = None
) -> Iterator[SessionFile]:
    """Every session file under ``projects/``, sidechain files marked as skipped. A slug
    directory that cannot hold ``project``'s sessions is passed over unread; an empty one is
    reported."""
    root = claude_home / "projects"
    if not root.is_dir():
        return
    want = slug_of(project.rstrip("/")) if project else None
    try:
        dirs = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError as exc:
        problems.append(Problem(file=str(root), what=f"unreadable: {exc.strerror or exc}; skipped"))
        return
    for d in dirs:
        if want and not (d.name == want or d.name.startswith(want + "-")):
            continue
        try:
            mains = sorted(d.glob("*.jsonl"))
            subs = sorted(p for p in d.rglob("*.jsonl") if p.parent != d)
        except OSError as exc:
            problems.append(
                Problem(file=str(d), what=f"unreadable: {exc.strerror or exc}; skipped")
            )
            continue
        if not mains and not subs:
            problems.append(Problem(file=str(d), what="slug directory holds no sessions; skipped"))
            continue
        for p in mains:
            yield SessionFile(
                p, "sidechain file (agent-*.jsonl)" if p.name.startswith("agent-") else None, d.name
            )
        for p in subs:
            yield SessionFile(
                p,
                "subagent transcript (subagents/)"
                if "subagents" in p.relative_to(d).parts
                else "not a top-level session file",
                d.name,
            )


def _text(content: Any) -> str:
    return ev.block_text(content)


def prompt_text(content: Any) -> str | None:
    """The human's words in a user line, or None when the line is not a prompt (tool
    results, command wrappers, reminders, interruption markers)."""
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    text = _REMINDER.sub("", _text(content)).strip()
    if not text or text.startswith(_WRAPPERS):
        return None
    return text


def read(sf: SessionFile, problems: list[Problem]) -> SessionBuilder:
    """Walk one session file into a builder; bad lines become problems and are skipped."""
    b = SessionBuilder("claude", str(sf.path), session_id=sf.path.stem)
    usage: dict[str, dict[str, Any]] = {}
    unknown: set[str] = set()
    rows = list(ev.read_jsonl(sf.path, problems))
    # file order is not always conversation order (an answer can be flushed before its
    # prompt line): order conversation lines by timestamp, stably
    rows.sort(key=lambda r: str(r[1].get("timestamp") or ""))
    for no, d in rows:
        kind = d.get("type")
        if not isinstance(kind, str) or kind not in KNOWN_TYPES:
            if str(kind) not in unknown:
                unknown.add(str(kind))
                problems.append(
                    Problem(file=str(sf.path), line=no, what=f"unknown line type {kind!r}; skipped")
                )
            continue
        if kind not in ("user", "assistant"):
            if kind == "file-history-snapshot":
                snap = ev.obj(d.get("snapshot"))
                for path in snap.get("trackedFileBackups") or {}:
                    b.touched(str(path))
            continue
        if d.get("isSidechain"):
            continue
        _identity(b, d)
        at = b.seen(d.get("timestamp"))
        msg = ev.obj(d.get("message"))
        if kind == "user":
            _user(b, d, msg, at)
        else:
            _assistant(b, d, msg, usage)
    for u in usage.values():
        b.tokens.input += int(u.get("input_tokens") or 0) + int(
            u.get("cache_creation_input_tokens") or 0
        )
        b.tokens.output += int(u.get("output_tokens") or 0)
        b.tokens.cached_input += int(u.get("cache_read_input_tokens") or 0)
    return b


def _identity(b: SessionBuilder, d: dict[str, Any]) -> None:
    if d.get("sessionId") and b.session_id == Path(b.source_file).stem:
        b.session_id = str(d["sessionId"])
    b.cwd = b.cwd or str(d.get("cwd") or "")
    if d.get("gitBranch") and not b.branch:
        b.branch = str(d["gitBranch"])
    b.cli_version = b.cli_version or str(d.get("version") or "")


def _user(b: SessionBuilder, d: dict[str, Any], msg: dict[str, Any], at: Any) -> None:
    if d.get("isMeta") or d.get("isCompactSummary") or d.get("isVisibleInTranscriptOnly"):
        return
    content = msg.get("content")
    if isinstance(content, list):
        for blk in content:
            if isinstance(blk, dict) and blk.get("type") == "tool_result":
                out = blk.get("content")
                result = out if isinstance(out, str) else _text(out)
                m = _EXIT.match(result)
                code = int(m.group(1)) if m else None
                if (
                    code is None
                    and not blk.get("is_error")
                    and b.by_id.get(str(blk.get("tool_use_id")))
                    and b.by_id[str(blk.get("tool_use_id"))].name == "Bash"
                ):
                    code = 0  # claude writes "Exit code N" only for a failure
                b.result(
                    str(blk.get("tool_use_id")),
                    result,
                    is_error=bool(blk.get("is_error")),
                    exit_code=code,
                )
    text = prompt_text(content)
    if text is not None:
        b.prompt(text, at)


def _assistant(
    b: SessionBuilder, d: dict[str, Any], msg: dict[str, Any], usage: dict[str, dict[str, Any]]
) -> None:
    if msg.get("model") and msg.get("model") != "<synthetic>":
        b.model = str(msg["model"])
    mid = str(msg.get("id") or d.get("uuid") or "")
    if isinstance(msg.get("usage"), dict):
        usage[mid] = msg["usage"]
    if d.get("isApiErrorMessage"):
        b.api_errors.append(_text(msg.get("content"))[:500] or "API error")
        return
    for blk in msg.get("content") or []:
        if not isinstance(blk, dict):
            continue
        if blk.get("type") == "text" and blk.get("text"):
            b.answer(str(blk["text"]))
        elif blk.get("type") == "tool_use":
            inp = ev.obj(blk.get("input"))
            name = str(blk.get("name") or "")
            cmd = str(inp.get("command") or "") if name in SHELL_TOOLS else ""
            b.call(str(blk.get("id") or ""), name, inp, cmd)
            if name == "Skill":
                b.skill(
                    str(inp.get("skill") or inp.get("command") or inp.get("name") or "") or None
                )
            elif name == "Read":
                b.skill(ev.skill_from_path(str(inp.get("file_path") or "")))
