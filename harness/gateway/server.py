"""The Gateway: the only model endpoint an agent under test can reach.

Modes (see DESIGN.md): ``scripted`` answers from a YAML policy, ``record`` forwards to the
real API and appends each exchange to a cassette, ``replay`` serves a cassette, and
``passthrough`` forwards without recording. Every request must carry a key handed out by
:meth:`Gateway.register_trial`, which is how usage, turn numbers and exchanges are kept per
trial; the user's real key only exists inside :class:`~.upstream.Upstream`.

Why the Gateway is small: routing asks the wire registry (:mod:`.wires`) which wire a path
belongs to, and the answer is the mode object's business (:mod:`.modes`, :mod:`.scripted`);
the Gateway keeps only what spans them: trials and their keys, the token budget, the events
and the server's lifecycle.

Usage::

    with Gateway("scripted", policy="tasks/policies/hello.yaml") as gw:
        key = gw.register_trial("t1")
        ...  # agent with ANTHROPIC_BASE_URL=gw.url, ANTHROPIC_API_KEY=key.key
        gw.usage("t1"), gw.exchanges("t1"), gw.events
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.errors import ConfigError, GatewayError

from . import wires
from .context import EventLog, Mode, RequestContext
from .httpd import GatewayHandler, GatewayHTTPServer
from .modes import MODES, make_mode
from .policy import Policy, policy_from
from .trials import (
    Exchange,
    GatewayEvent,
    Pending,
    TrialKey,
    TrialState,
    Usage,
    make_state,
    now,
    redact_headers,
)
from .upstream import Upstream

log = logging.getLogger("harness.gateway")
ModeName = Literal["scripted", "record", "replay", "passthrough"]
BUDGET_STATUS = 402  # not retried by either CLI, unlike 429 / 5xx

__all__ = ["BUDGET_STATUS", "MODES", "Gateway", "Mode", "ModeName"]


class Gateway:
    """One HTTP server for every trial of a run; a context manager owning its thread."""

    def __init__(self, mode: ModeName = "scripted", *,
                 policy: Policy | str | Path | dict[str, Any] | None = None,
                 cassette: str | Path | None = None, upstream: Upstream | None = None,
                 host: str = "127.0.0.1", port: int = 0, budget_tokens: int | None = None
                 ) -> None:
        policy = policy_from(policy)
        if mode == "scripted" and policy is None:
            policy = Policy()  # then every trial brings its own (register_trial(policy=...))
        self._closing = threading.Event()
        self.serving: Mode = make_mode(mode, cassette=cassette, upstream=upstream,
                                       closing=self._closing)
        self.mode: ModeName = mode
        self.policy = policy
        self.host, self._port = host, port
        self.budget_tokens = budget_tokens
        self._trials: dict[str, TrialState] = {}
        self._by_key: dict[str, TrialState] = {}
        self._lock = threading.Lock()
        self._events = EventLog()
        self._server: GatewayHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._closed:
            raise GatewayError("this Gateway was closed; make a new one")
        if self._server is not None:
            return self
        try:
            self._server = GatewayHTTPServer((self.host, self._port), self.dispatch,
                                             lambda: {"status": "ok", "mode": self.mode})
        except OSError as exc:
            raise GatewayError(
                f"gateway cannot listen on {self.host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        self.serving.start()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="harness-gateway", daemon=True)
        self._thread.start()
        log.info("gateway %s listening on %s", self.mode, self.url)
        return self

    def close(self) -> None:
        """Stop serving, cut open connections, join handler threads. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.cut_all()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.serving.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise GatewayError("gateway not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without ``/v1`` (claude's ANTHROPIC_BASE_URL); codex wants url + "/v1"."""
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ trials
    def register_trial(self, trial_id: str, *,
                       policy: Policy | str | Path | dict[str, Any] | None = None,
                       model: str | None = None) -> TrialKey:
        """A dummy key for one trial; ``policy`` (scripted mode: a Policy, a file or an inline
        mapping, as task files hold it) overrides the run's default, so each task of a suite
        can script its own model. It is validated here, before any agent starts. ``model``
        is the name the agent was told to use, listed first by ``GET /v1/models``."""
        policy = policy_from(policy, where=f"policy of trial {trial_id}")
        with self._lock:
            if trial_id in self._trials:
                return self._trials[trial_id].key
            state = make_state(trial_id, policy if policy is not None else self.policy,
                               model=model or "")
            self._trials[trial_id] = state
            self._by_key[state.key.key] = state
            return state.key

    def _state(self, trial_id: str) -> TrialState:
        try:
            return self._trials[trial_id]
        except KeyError:
            raise ConfigError(f"trial {trial_id!r} is not registered with the gateway") from None

    def usage(self, trial_id: str) -> Usage:
        st = self._state(trial_id)
        with st.lock:
            return st.usage

    def total_usage(self) -> Usage:
        total = Usage()
        for st in list(self._trials.values()):
            with st.lock:
                total = total.plus(st.usage)
        return total

    def stalled(self, trial_id: str, min_silent_sec: float) -> str | None:
        """Why this trial's model reply never came, if one of its requests is still open
        and has sent nothing for ``min_silent_sec`` (injected latency, a hung upstream);
        else None. The runner asks at a trial timeout: a reply that never came is the
        Gateway's or the upstream's fault, never the agent's."""
        st = self._state(trial_id)
        at = time.monotonic()
        with st.lock:
            open_ = sorted(st.pending.values(), key=lambda p: p.silent_sec(at), reverse=True)
        if not open_ or open_[0].silent_sec(at) < min_silent_sec:
            return None
        p = open_[0]
        where = self.serving.stall_source
        return (f"model reply never came: a {p.api} {p.kind} request was still pending at the "
                f"trial timeout ({at - p.started:.0f}s open, nothing sent for "
                f"{p.silent_sec(at):.0f}s; {where} stalled)")

    def waiting_sec(self, trial_id: str) -> float:
        """How long this trial has been waiting on the model with nothing sent back: the
        least silence among its open requests, 0.0 when none is open (or a byte just went).
        The driver polls the screen slowly meanwhile: nothing can change there until the
        model answers, and a trial that waits should cost nothing (issue 14)."""
        st = self._trials.get(trial_id)
        if st is None:
            return 0.0
        at = time.monotonic()
        with st.lock:
            silences = [p.silent_sec(at) for p in st.pending.values()]
        return min(silences) if silences else 0.0

    def exchanges(self, trial_id: str) -> list[Exchange]:
        st = self._state(trial_id)
        with st.lock:
            return list(st.exchanges)

    @property
    def events(self) -> list[GatewayEvent]:
        return self._events.snapshot()

    @property
    def budget_exceeded(self) -> bool:
        return self.budget_tokens is not None and \
            self.total_usage().total_tokens >= self.budget_tokens

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, h: GatewayHandler, raw: bytes) -> None:
        """Route one request; every refusal is an immediate, explained HTTP error."""
        started = time.time()
        route = wires.route_of(h.path)
        method = h.command or "POST"
        wire = wires.for_path(h.path, method)
        if wire is None:
            h.send_json(404, {"error": {"message":
                                        f"harness gateway: no route {method} {route}"}})
            return
        state = self._by_key.get(h.api_key())
        if state is None:
            log.warning("gateway: request to %s with an unknown key refused", route)
            h.send_json(401, wire.error(401, "harness gateway: unknown API key; "
                                             "use the key from Gateway.register_trial"))
            return
        if method == "GET":
            self._listing(h, wire, route, state)
            return
        why = "body is not a JSON object"
        try:
            req = json.loads(raw or b"{}")
        except ValueError as exc:
            req, why = None, f"bad JSON body: {exc}"
        if not isinstance(req, dict):
            h.send_json(400, wire.error(400, f"harness gateway: {why}"))
            return
        view = wire.view(route, req)
        with state.lock:
            turn = state.turn_for(view)
        ctx = RequestContext(state, wire, _without_key(h.path), view, req,
                             redact_headers(dict(h.headers)), turn, started, raw, h,
                             self._events)
        ctx.event("request", view.kind)
        token = id(ctx)
        with state.lock:
            state.pending[token] = Pending(view.kind, wire.NAME, time.monotonic(), h)
        try:
            self._answer(ctx)
        finally:
            with state.lock:
                state.pending.pop(token, None)

    def _listing(self, h: GatewayHandler, wire: wires.Wire, route: str,
                 state: TrialState) -> None:
        """A wire's GET (``/v1/models``), answered here in every mode: the list is the
        trial's configuration (its model, then the models it asked for), not a model turn,
        so it needs no upstream, no cassette line and counts no usage."""
        with state.lock:
            asked = [e.view.model for e in state.exchanges if e.view.model]
        models = tuple(dict.fromkeys(m for m in (state.model, *asked) if m)) or ("harness",)
        wall, mono = now()
        self._events.add(GatewayEvent(state.key.trial_id, "listing", wire.NAME, wall, mono,
                                      state.turn, route))
        h.send_json(200, wires.lister(wire).listing(route, models))

    def _answer(self, ctx: RequestContext) -> None:
        """Answer one accepted request in the Gateway's mode (budget first)."""
        if self.budget_exceeded:
            msg = (f"harness gateway: run token budget {self.budget_tokens} exhausted "
                   f"({self.total_usage().total_tokens} used); no further model calls")
            log.warning(msg)
            ctx.record(BUDGET_STATUS, note="budget exceeded")
            ctx.reply.send_json(BUDGET_STATUS,
                                ctx.wire.error(BUDGET_STATUS, msg, "budget_exceeded"))
            return
        try:
            self.serving.answer(ctx)
        except (BrokenPipeError, ConnectionResetError) as exc:
            log.info("gateway: client of trial %s went away: %s", ctx.trial_id, exc)
            if not ctx.recorded:
                ctx.record(499, note="client went away")


def _without_key(path: str) -> str:
    """The path without a ``key=`` query parameter (Gemini clients may send the key so): the
    trial's key stays out of exchanges, cassettes and the upstream request."""
    u = urlsplit(path)
    if "key=" not in u.query:
        return path
    query = urlencode([(k, v) for k, v in parse_qsl(u.query, keep_blank_values=True)
                       if k != "key"])
    return urlunsplit(("", "", u.path, query, ""))
