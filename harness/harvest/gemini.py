"""Reading Gemini CLI sessions: ``$GEMINI_CLI_HOME/.gemini`` or ``~/.gemini`` ->
``tmp/<project>/chats/session-*.jsonl`` (0.61; older CLIs wrote ``session-*.json``).

The lines are parsed by the agent's own profile (:mod:`controllers.profiles.gemini`: one
reading of the format for the Episode and for harvest). ``<project>`` is a short name (or,
in older CLIs, a sha256 of the project path), and the session holds only its hash, so the
``cwd`` is recovered from, in order: the project dir's ``.project_root`` file (the path the
CLI wrote there), ``~/.gemini/projects.json`` (path -> short name), a known path whose
sha256 is the session's ``projectHash``, or the ``Workspace Directories`` list of the
session context the CLI sends first. Shell calls are ``run_shell_command``; a failed one's
output carries ``Exit Code: N``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controllers.profiles import gemini as profile
from harness.harvest import evidence as ev
from harness.harvest.builder import SessionBuilder
from harness.harvest.digest import Problem

SHELL = "run_shell_command"
EDIT_TOOLS = ("write_file", "replace", "edit")
_EXIT = re.compile(r"^Exit Code: (-?\d+)", re.M)
_WORKSPACE = re.compile(r"Workspace Directories:\*{0,2}\s*\n\s*-\s*(\S[^\n]*)")
_CONTEXT = ("<session_context>",)


def home(explicit: Path | None, environ: dict[str, str]) -> Path:
    if explicit is not None:
        return explicit
    env = environ.get("GEMINI_CLI_HOME")
    return Path(env) / ".gemini" if env else Path(environ.get("HOME", str(Path.home()))) / ".gemini"


def discover(gemini_home: Path, problems: list[Problem]) -> Iterator[Path]:
    for pattern in ("tmp/*/chats/session-*.jsonl", "tmp/*/chats/session-*.json"):
        yield from sorted(gemini_home.glob(pattern))


def project_roots(gemini_home: Path) -> dict[str, str]:
    """project dir name -> path, from ``projects.json`` (``{"projects": {path: name}}``)."""
    try:
        data = json.loads((gemini_home / "projects.json").read_text())
    except (OSError, ValueError):
        return {}
    table = data.get("projects", data) if isinstance(data, dict) else {}
    return {str(v): str(k) for k, v in table.items() if isinstance(k, str)} if isinstance(table, dict) else {}


def _cwd(path: Path, meta: dict[str, Any], context: str) -> str:
    project_dir = path.parent.parent
    root = project_dir / ".project_root"
    if root.is_file():
        text = root.read_text(errors="replace").strip()
        if text:
            return text
    roots = project_roots(project_dir.parent.parent)
    if project_dir.name in roots:
        return roots[project_dir.name]
    digest = str(meta.get("projectHash") or "")
    for known in roots.values():
        if hashlib.sha256(known.encode()).hexdigest() == digest:
            return known
    m = _WORKSPACE.search(context)
    return m.group(1).strip() if m else ""


def _legacy(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ``session-*.json`` of older CLIs: one object with a ``messages`` list."""
    data = json.loads(path.read_text(errors="replace"))
    if not isinstance(data, dict):
        return {}, []
    msgs = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    return {k: v for k, v in data.items() if k != "messages"}, msgs


def read(path: Path, problems: list[Problem]) -> SessionBuilder:
    """Walk one session file into a builder; the injected session context is not a prompt."""
    b = SessionBuilder("gemini", str(path), session_id=path.stem)
    meta, msgs = _legacy(path) if path.suffix == ".json" else profile._records(path)
    if not msgs and path.stat().st_size:
        problems.append(Problem(file=str(path), what="no readable message; skipped"))
    b.session_id = str(meta.get("sessionId") or b.session_id)
    b.seen(meta.get("startTime"))
    given = meta.get("messages")
    injected: list[Any] = given if isinstance(given, list) else []
    allm = [m for m in [*injected, *msgs] if isinstance(m, dict)]
    context = "".join(t for m in allm if m.get("type") == "user"
                      and (t := profile._text(m.get("content"))).lstrip().startswith(_CONTEXT))
    b.cwd = _cwd(path, meta, context)  # before the walk: touched files are kept relative to it
    for m in allm:
        at = b.seen(m.get("timestamp"))
        kind, content = m.get("type"), m.get("content")
        if kind == "user" and profile._responses(content):
            for part in profile._responses(content):
                _result(b, str(part["functionResponse"].get("id") or ""), profile._result([part]), None)
        elif kind == "user":
            text = profile._text(content)
            if text.strip() and not text.lstrip().startswith(_CONTEXT):
                b.prompt(text, at)
        elif kind == "gemini":
            b.model = str(m.get("model") or b.model)
            b.answer(profile._text(content))
            for c in m.get("toolCalls") or []:
                if not isinstance(c, dict):
                    continue
                args, name = ev.obj(c.get("args")), str(c.get("name") or "")
                cid = str(c.get("id") or "")
                b.call(cid, name, args, str(args.get("command") or "") if name == SHELL else "")
                if c.get("result") is not None:
                    _result(b, cid, profile._result(c.get("result")), str(c.get("status") or ""))
            tokens = ev.obj(m.get("tokens"))
            b.tokens.input += int(tokens.get("input") or 0)
            b.tokens.output += int(tokens.get("output") or 0)
            b.tokens.cached_input += int(tokens.get("cached") or 0)
        elif kind == "error":
            b.api_errors.append(profile._text(content)[:500] or "error")
    return b


def _result(b: SessionBuilder, cid: str, text: str, status: str | None) -> None:
    c = b.by_id.get(cid)
    if c is None or (c.output and not text):
        return
    m = _EXIT.search(text)
    code = int(m.group(1)) if m else (0 if c.name == SHELL and status == "success" else None)
    b.result(cid, text, is_error=status in ("error", "cancelled"), exit_code=code)
    if c.name in EDIT_TOOLS and status == "success":
        b.touched(str(c.input.get("file_path") or "") or None)
