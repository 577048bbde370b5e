"""Reading opencode sessions: ``$XDG_DATA_HOME/opencode`` or ``~/.local/share/opencode`` ->
``opencode.db``, one sqlite file for every session (opencode 1.x; found from the sessions
the pinned CLI, 1.18.33, wrote in the tests).

Tables read (read-only, never locked for writing): ``session`` (``id``, ``parent_id`` —
subagent sessions have one and are skipped —, ``directory``, ``version``, ``model`` JSON,
``time_created`` / ``time_updated`` in ms, ``time_archived``), ``message`` (``data`` JSON:
``role``, ``time``, ``modelID``, ``tokens``, ``error``) and ``part`` (``data`` JSON:
``text``, ``tool`` with ``callID`` / ``state.{input,output,status,metadata.exit}``,
``step-finish`` with ``tokens``, ``patch`` with ``files``). A part's or message's own id and
session id sit in the row, not in ``data``.

Why a session is addressed as ``<db>#<session id>``: the harvest store keeps one row per
session source with a size and mtime to skip what it has read; here the "size" is the
session's part count and the "mtime" its ``time_updated``, so a session that grew is read
again and the others are not.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers.profiles import opencode as profile
from harness.harvest import evidence as ev
from harness.harvest.builder import SessionBuilder
from harness.harvest.digest import Problem

DB_NAME = "opencode.db"
SHELL = "bash"  # opencode's shell tool; its input is {"command", "description"}


@dataclass(frozen=True)
class SessionRow:
    db: Path
    session_id: str
    parts: int
    updated_ms: int
    skip: str | None = None

    @property
    def path(self) -> Path:
        return Path(f"{self.db}#{self.session_id}")


def home(explicit: Path | None, environ: dict[str, str]) -> Path:
    if explicit is not None:
        return explicit
    data = environ.get("XDG_DATA_HOME")
    base = Path(data) if data else Path(environ.get("HOME", str(Path.home()))) / ".local" / "share"
    return base / "opencode"


def _connect(db: Path) -> sqlite3.Connection:
    """Read-only, so a running opencode is never blocked or changed; WAL pages are seen."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    con.row_factory = sqlite3.Row
    return con


def split(path: Path) -> tuple[Path, str]:
    """``<db>#<session id>`` -> (db, session id)."""
    db, _, sid = str(path).rpartition("#")
    return Path(db), sid


def discover(data_home: Path, problems: list[Problem]) -> Iterator[SessionRow]:
    db = data_home / DB_NAME
    if not db.is_file():
        return
    try:
        con = _connect(db)
        try:
            rows = con.execute(
                "SELECT s.id, s.parent_id, s.time_updated, s.time_archived,"
                " (SELECT COUNT(*) FROM part p WHERE p.session_id = s.id) AS parts"
                " FROM session s ORDER BY s.time_created").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        problems.append(Problem(file=str(db), what=f"cannot read the session table: {exc}; skipped"))
        return
    for r in rows:
        skip = "subagent session (session.parent_id)" if r["parent_id"] else None
        yield SessionRow(db, str(r["id"]), int(r["parts"] or 0), int(r["time_updated"] or 0), skip)


def _json(raw: Any, where: str, problems: list[Problem]) -> dict[str, Any]:
    try:
        d = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        problems.append(Problem(file=where, what="a row whose data is not JSON; skipped"))
        return {}
    return d if isinstance(d, dict) else {}


def load(db: Path, session_id: str, problems: list[Problem]) -> dict[str, Any]:
    """One session as ``{"info": session, "messages": [{"info", "parts"}]}``, the shape the
    opencode profile's plugin writes (so ``controllers.profiles.opencode`` parses both)."""
    where = f"{db}#{session_id}"
    con = _connect(db)
    try:
        s = con.execute("SELECT * FROM session WHERE id = ?", (session_id,)).fetchone()
        if s is None:
            return {}
        msgs = con.execute("SELECT id, time_created, data FROM message WHERE session_id = ?"
                           " ORDER BY time_created, id", (session_id,)).fetchall()
        parts = con.execute("SELECT id, message_id, data FROM part WHERE session_id = ?"
                            " ORDER BY id", (session_id,)).fetchall()
    finally:
        con.close()
    by_msg: dict[str, list[dict[str, Any]]] = {}
    for p in parts:
        d = _json(p["data"], where, problems)
        if d:
            by_msg.setdefault(str(p["message_id"]), []).append(
                {**d, "id": p["id"], "messageID": p["message_id"], "sessionID": session_id})
    model = _json(s["model"], where, []) if s["model"] else {}
    info = {"id": s["id"], "directory": s["directory"], "version": s["version"],
            "title": s["title"], "model": model,
            "time": {"created": s["time_created"], "updated": s["time_updated"]}}
    messages = []
    for m in msgs:
        d = _json(m["data"], where, problems)
        d = {**d, "id": m["id"], "sessionID": session_id}
        d.setdefault("time", {"created": m["time_created"]})
        messages.append({"info": d, "parts": by_msg.get(str(m["id"]), [])})
    return {"info": info, "messages": messages}


def read(row: SessionRow, problems: list[Problem]) -> tuple[SessionBuilder, str | None]:
    """One session into a builder; returns the skip reason discover found (subagents)."""
    b = SessionBuilder("opencode", str(row.path))
    data = load(row.db, row.session_id, problems)
    info = ev.obj(data.get("info"))
    b.session_id = str(info.get("id") or row.session_id)
    b.cwd, b.cli_version = str(info.get("directory") or ""), str(info.get("version") or "")
    b.model = str(ev.obj(info.get("model")).get("id") or "")
    for t in ev.obj(info.get("time")).values():
        b.seen(t)
    for m in data.get("messages") or []:
        mi, parts = ev.obj(m.get("info")), [p for p in m.get("parts") or [] if isinstance(p, dict)]
        at = b.seen(ev.obj(mi.get("time")).get("created"))
        if mi.get("role") == "user":
            text = "\n".join(str(p.get("text") or "") for p in parts
                             if p.get("type") == "text" and not p.get("synthetic"))
            if text.strip():
                b.prompt(text, at)
            continue
        b.model = str(mi.get("modelID") or b.model)
        err = profile.api_error(mi.get("error"))
        if err:
            b.api_errors.append(err)
        for p in parts:
            _part(b, p)
    return b, row.skip


def _part(b: SessionBuilder, p: dict[str, Any]) -> None:
    kind = p.get("type")
    if kind == "text" and not p.get("synthetic"):
        b.answer(str(p.get("text") or ""))
    elif kind == "tool":
        state = ev.obj(p.get("state"))
        inp = ev.obj(state.get("input"))
        name = str(p.get("tool") or "")
        # opencode names the edited file filePath; the builder reads file_path / path
        if "filePath" in inp and "file_path" not in inp:
            inp = {**inp, "file_path": inp["filePath"]}
        cmd = str(inp.get("command") or "") if name == SHELL else ""
        cid = str(p.get("callID") or p.get("id") or "")
        b.call(cid, name, inp, cmd)
        status = state.get("status")
        out = state.get("output") if status == "completed" else state.get("error")
        code = ev.obj(state.get("metadata")).get("exit")
        b.result(cid, str(out or ""), is_error=status == "error",
                 exit_code=code if isinstance(code, int) else None)
    elif kind == "patch":
        for f in p.get("files") or []:
            b.touched(str(f))
    elif kind == "step-finish":
        tokens = ev.obj(p.get("tokens"))
        b.tokens.input += int(tokens.get("input") or 0)
        b.tokens.output += int(tokens.get("output") or 0)
        b.tokens.cached_input += int(ev.obj(tokens.get("cache")).get("read") or 0)
