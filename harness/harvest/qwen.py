"""Reading Qwen Code sessions: ``$QWEN_HOME`` or ``~/.qwen`` ->
``projects/<sanitized cwd>/chats/<session id>.jsonl``.

The records are parsed by the agent's own profile (:mod:`controllers.profiles.qwen`: one
reading of the format for the Episode and for harvest). The directory name is the cwd with
every non-alphanumeric character made ``-`` (lossy), so the ``cwd`` comes from the records
themselves: each carries ``cwd``, ``sessionId`` and the CLI ``version``. Shell calls are
``run_shell_command``; their output ends with ``Exit Code: N``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from controllers.profiles import qwen as profile
from harness.harvest import evidence as ev
from harness.harvest.builder import SessionBuilder
from harness.harvest.digest import Problem

SHELL = "run_shell_command"
#: tools whose ``file_path`` argument names a file they wrote
EDIT_TOOLS = ("write_file", "replace", "edit")
_EXIT = re.compile(r"^Exit Code: (-?\d+)", re.M)


def home(explicit: Path | None, environ: dict[str, str]) -> Path:
    if explicit is not None:
        return explicit
    env = environ.get("QWEN_HOME")
    return Path(env) if env else Path(environ.get("HOME", str(Path.home()))) / ".qwen"


def discover(qwen_home: Path, problems: list[Problem]) -> Iterator[Path]:
    yield from sorted((qwen_home / "projects").glob("*/chats/*.jsonl"))


def read(path: Path, problems: list[Problem]) -> SessionBuilder:
    """Walk one session file into a builder (subagent and injected input are not prompts)."""
    b = SessionBuilder("qwen", str(path), session_id=path.stem)
    recs = profile.records(path)
    if not recs and path.stat().st_size:
        problems.append(Problem(file=str(path), what="no readable record; skipped"))
    for r in recs:
        b.session_id = str(r.get("sessionId") or b.session_id)
        b.cwd = b.cwd or str(r.get("cwd") or "")
        b.cli_version = b.cli_version or str(r.get("version") or "")
        at = b.seen(r.get("timestamp"))
        kind = r.get("type")
        if profile.is_prompt(r):
            b.prompt(profile.text_of(r), at)
        elif kind == "assistant":
            b.model = str(r.get("model") or b.model)
            b.answer(profile.text_of(r))
            for cid, name, args in profile.calls_of(r):
                cmd = str(args.get("command") or "") if name == SHELL else ""
                b.call(cid, name, args, cmd)
            u = ev.obj(r.get("usageMetadata"))
            b.tokens.input += int(u.get("promptTokenCount") or 0)
            b.tokens.output += int(u.get("candidatesTokenCount") or 0)
            b.tokens.cached_input += int(u.get("cachedContentTokenCount") or 0)
        elif kind == "tool_result":
            for cid, text, err in profile.results_of(r):
                m = _EXIT.search(text)
                code = int(m.group(1)) if m else None
                b.result(cid, text, is_error=err, exit_code=code)
                c = b.by_id.get(cid)
                if c is not None and c.name in EDIT_TOOLS and not err:
                    b.touched(str(c.input.get("file_path") or "") or None)
        elif (msg := profile.api_error(r)) is not None:
            b.api_errors.append(msg)
    return b
