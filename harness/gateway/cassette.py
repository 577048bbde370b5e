"""Cassettes: every recorded exchange as one JSON line, and the replay matcher.

One line::

    {"v": 1, "api": "anthropic", "path": "/v1/messages?beta=true", "trial": "t1",
     "request": {...body...}, "status": 200, "content_type": "text/event-stream",
     "body": "event: message_start\\ndata: ...", "recorded_at": 1700000000.0}

Why match on (api, kind, human text, tool step) and not on the whole body: the CLIs put
volatile things in requests (session ids, dates, temp paths, cache hints), so an exact body
match would miss on every rerun. The human's text plus the number of tool rounds since it
pins the position in a conversation; duplicates are served in recorded order. Headers are
never stored (they carry the key); the body is the upstream's raw bytes as text.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import LocatedError, ValidationFailed

from . import wires
from .view import RequestView


def view_for(api: str, path: str, body: dict[str, Any]) -> RequestView:
    """The request view of a recorded request, parsed by the wire that recorded it."""
    return wires.get(api).view(wires.route_of(path), body)


def match_key(view: RequestView) -> tuple[Any, ...]:
    return (view.api, view.kind, view.user_text.strip(), view.step)


@dataclass(frozen=True)
class Entry:
    line: int
    api: str
    path: str
    request: dict[str, Any]
    status: int
    content_type: str
    body: str
    key: tuple[Any, ...]


def load_cassette(path: str | Path) -> list[Entry]:
    """Parse a cassette; all malformed lines are reported together with file:line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationFailed(f"cassette {p}", [LocatedError(str(p), str(exc))]) from exc
    entries: list[Entry] = []
    errors: list[LocatedError] = []
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{p}:{n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(LocatedError(where, f"not JSON: {exc.msg} at column {exc.colno}"))
            continue
        problem = _check_line(obj)
        if problem:
            errors.append(LocatedError(where, problem))
            continue
        view = view_for(obj["api"], obj["path"], obj["request"])
        entries.append(Entry(n, obj["api"], obj["path"], obj["request"], obj["status"],
                             obj.get("content_type", "application/json"), obj["body"],
                             match_key(view)))
    if errors:
        raise ValidationFailed(f"cassette {p}", errors)
    return entries


def _check_line(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "expected a JSON object"
    if obj.get("api") not in wires.names():
        return f"`api` must be one of {', '.join(map(repr, wires.names()))}"
    for name, typ in (("path", str), ("request", dict), ("status", int), ("body", str)):
        if not isinstance(obj.get(name), typ):
            return f"`{name}` missing or not a {typ.__name__}"
    return None


class CassetteWriter:
    """Appends one line per exchange and flushes it, so a killed run keeps what it saw."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = self.path.open("a", encoding="utf-8")

    def append(self, *, api: str, path: str, trial: str, request: dict[str, Any],
               status: int, content_type: str, body: str, recorded_at: float) -> None:
        line = json.dumps({"v": 1, "api": api, "path": path, "trial": trial,
                           "request": request, "status": status, "content_type": content_type,
                           "body": body, "recorded_at": recorded_at}, ensure_ascii=False)
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def find_entry(entries: list[Entry], key: tuple[Any, ...], used: set[int]) -> Entry | None:
    """The first recorded entry with this key not yet served to the trial, else the last one
    with this key (a CLI retrying a request it already got is served the same answer)."""
    last: Entry | None = None
    for e in entries:
        if e.key == key:
            if e.line not in used:
                return e
            last = e
    return last
