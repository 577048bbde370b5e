"""One request in flight: what came in, which trial and wire it belongs to, and the ways a
mode answers it (record the exchange, send an error, stamp the end).

Why an object of its own: the modes (scripted, replay, record, passthrough) all answer
through the same few steps; keeping them here lets each mode be a small object that is
handed a :class:`RequestContext` and never reaches into the Gateway. The events log is
shared by the Gateway (which reads it) and every request (which appends to it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .trials import Exchange, GatewayEvent, TrialState, Usage, now
from .view import RequestView

if TYPE_CHECKING:
    from .httpd import GatewayHandler
    from .wires import Wire


class EventLog:
    """The Gateway's timestamped events, appended from many handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[GatewayEvent] = []

    def add(self, event: GatewayEvent) -> None:
        with self._lock:
            self._events.append(event)

    def snapshot(self) -> list[GatewayEvent]:
        with self._lock:
            return list(self._events)


@dataclass
class RequestContext:
    """An accepted request: its trial, wire, parsed view and the handler to answer on."""

    state: TrialState
    wire: Wire
    path: str
    view: RequestView
    request: dict[str, Any]
    headers: dict[str, str]  # redacted: safe to keep
    turn: int
    started: float
    raw: bytes
    reply: GatewayHandler
    log: EventLog = field(repr=False)
    recorded: bool = False

    @property
    def api(self) -> str:
        return self.wire.NAME

    @property
    def trial_id(self) -> str:
        return self.state.key.trial_id

    def event(self, kind: str, detail: str = "") -> None:
        wall, mono = now()
        self.log.add(GatewayEvent(self.trial_id, kind, self.api, wall, mono, self.turn, detail))

    def record(self, status: int, *, rule: str = "", note: str = "", final: bool = False,
               tokens: tuple[int, int] = (0, 0)) -> None:
        """Keep the exchange and its usage. Called *before* the last byte goes out, so a
        client that has its answer can already see the exchange; see :meth:`finish`."""
        self.recorded = True
        ex = Exchange(self.trial_id, self.api, self.path, self.view.kind, self.turn,
                      self.view.step, self.view, self.request, self.headers, status, rule,
                      note, final, self.started, time.time())
        with self.state.lock:
            self.state.exchanges.append(ex)
            self.state.usage = self.state.usage.plus(Usage(1, tokens[0], tokens[1]))

    def finish(self, status: int, *, final: bool, rule: str = "") -> None:
        """Timestamp the moment right after the last byte was flushed to the client."""
        if final:
            self.event("final_answer", rule)
        self.event("response_end", str(status))

    def error(self, status: int, message: str, *, rule: str = "", etype: str | None = None,
              retry_after: float | None = None) -> None:
        """Answer with the wire's error body (its clients' retry logic reads it)."""
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self.record(status, rule=rule, note=message)
        self.reply.send_json(status, self.wire.error(status, message, etype), headers)
        self.finish(status, final=False)


class Mode(Protocol):
    """How the Gateway answers accepted requests: scripted, replay, record, passthrough.

    A mode owns its state (cassette entries and writer, upstream client, per-trial replay
    bookkeeping) and is opened with the server (:meth:`start`) and closed after it."""

    name: str
    #: who is to blame when a reply never comes (:meth:`Gateway.stalled`)
    stall_source: str

    def start(self) -> None: ...

    def answer(self, ctx: RequestContext) -> None: ...

    def close(self) -> None: ...
