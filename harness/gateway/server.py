"""The Gateway: the only model endpoint an agent under test can reach.

Modes (see DESIGN.md): ``scripted`` answers from a YAML policy, ``record`` forwards to the
real API and appends each exchange to a cassette, ``replay`` serves a cassette, and
``passthrough`` forwards without recording. Every request must carry a key handed out by
:meth:`Gateway.register_trial`, which is how usage, turn numbers and exchanges are kept per
trial; the user's real key only exists inside :class:`~.upstream.Upstream`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from harness.errors import ConfigError, GatewayError

from . import wire
from .cassette import CassetteWriter, Entry, load_cassette, view_for
from .httpd import GatewayHandler, GatewayHTTPServer
from .modes import serve_forward, serve_replay
from .policy import Call, Fault, Policy, policy_from
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
from .view import RequestView

log = logging.getLogger("harness.gateway")
Mode = Literal["scripted", "record", "replay", "passthrough"]
MODES = ("scripted", "record", "replay", "passthrough")
ROUTES = {"/v1/messages": "anthropic", "/v1/messages/count_tokens": "anthropic",
          "/v1/responses": "openai"}
BUDGET_STATUS = 402  # not retried by either CLI, unlike 429 / 5xx


@dataclass
class _Ctx:
    state: TrialState
    api: str
    path: str
    view: RequestView
    request: dict[str, Any]
    headers: dict[str, str]
    turn: int
    started: float
    raw: bytes
    recorded: bool = False


class Gateway:
    """One HTTP server for every trial of a run; a context manager owning its thread."""

    def __init__(self, mode: Mode = "scripted", *,
                 policy: Policy | str | Path | dict[str, Any] | None = None,
                 cassette: str | Path | None = None, upstream: Upstream | None = None,
                 host: str = "127.0.0.1", port: int = 0, budget_tokens: int | None = None
                 ) -> None:
        if mode not in MODES:
            raise ConfigError(f"gateway mode {mode!r} unknown; use one of {', '.join(MODES)}")
        policy = policy_from(policy)
        if mode == "scripted" and policy is None:
            policy = Policy()  # then every trial brings its own (register_trial(policy=...))
        if mode in ("record", "replay") and cassette is None:
            raise ConfigError(f"gateway mode {mode!r} needs a cassette path")
        self.mode: Mode = mode
        self.policy = policy
        self.host, self._port = host, port
        self.budget_tokens = budget_tokens
        self.upstream = upstream or (Upstream.from_env() if mode in ("record", "passthrough")
                                     else None)
        self._entries: list[Entry] = (load_cassette(cassette)
                                      if mode == "replay" and cassette is not None else [])
        self._cassette_path = Path(cassette) if cassette is not None else None
        self._writer: CassetteWriter | None = None
        self._trials: dict[str, TrialState] = {}
        self._by_key: dict[str, TrialState] = {}
        self._lock = threading.Lock()
        self._events: list[GatewayEvent] = []
        self._closing = threading.Event()
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
            self._server = GatewayHTTPServer((self.host, self._port), self)
        except OSError as exc:
            raise GatewayError(
                f"gateway cannot listen on {self.host}:{self._port}: {exc.strerror or exc}"
            ) from exc
        if self.mode == "record" and self._cassette_path is not None:
            self._writer = CassetteWriter(self._cassette_path)
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
        if self._writer is not None:
            self._writer.close()

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
                       policy: Policy | str | Path | dict[str, Any] | None = None) -> TrialKey:
        """A dummy key for one trial; ``policy`` (scripted mode: a Policy, a file or an inline
        mapping, as task files hold it) overrides the run's default, so each task of a suite
        can script its own model. It is validated here, before any agent starts."""
        policy = policy_from(policy, where=f"policy of trial {trial_id}")
        with self._lock:
            if trial_id in self._trials:
                return self._trials[trial_id].key
            state = make_state(trial_id, policy if policy is not None else self.policy)
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
        where = "the upstream model API" if self.mode in ("record", "passthrough") else \
            f"the {self.mode} Gateway"
        return (f"model reply never came: a {p.api} {p.kind} request was still pending at the "
                f"trial timeout ({at - p.started:.0f}s open, nothing sent for "
                f"{p.silent_sec(at):.0f}s; {where} stalled)")

    def exchanges(self, trial_id: str) -> list[Exchange]:
        st = self._state(trial_id)
        with st.lock:
            return list(st.exchanges)

    @property
    def events(self) -> list[GatewayEvent]:
        with self._lock:
            return list(self._events)

    @property
    def budget_exceeded(self) -> bool:
        return self.budget_tokens is not None and \
            self.total_usage().total_tokens >= self.budget_tokens

    def _event(self, ctx: _Ctx, kind: str, detail: str = "") -> None:
        wall, mono = now()
        with self._lock:
            self._events.append(GatewayEvent(ctx.state.key.trial_id, kind, ctx.api, wall, mono,
                                             ctx.turn, detail))

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, h: GatewayHandler, raw: bytes) -> None:
        """Route one POST; every refusal is an immediate, explained HTTP error."""
        started = time.time()
        route = h.path.split("?")[0].rstrip("/")
        api = ROUTES.get(route)
        if api is None:
            h.send_json(404, {"error": {"message": f"harness gateway: no route {route}"}})
            return
        err = wire.anthropic_error if api == "anthropic" else wire.openai_error
        state = self._by_key.get(h.api_key())
        if state is None:
            log.warning("gateway: request to %s with an unknown key refused", route)
            h.send_json(401, err(401, "harness gateway: unknown API key; "
                                      "use the key from Gateway.register_trial"))
            return
        why = "body is not a JSON object"
        try:
            req = json.loads(raw or b"{}")
        except ValueError as exc:
            req, why = None, f"bad JSON body: {exc}"
        if not isinstance(req, dict):
            h.send_json(400, err(400, f"harness gateway: {why}"))
            return
        view = view_for(api, route, req)
        with state.lock:
            turn = state.turn_for(view)
        ctx = _Ctx(state, api, h.path, view, req, redact_headers(dict(h.headers)), turn,
                   started, raw)
        self._event(ctx, "request", view.kind)
        token = id(ctx)
        with state.lock:
            state.pending[token] = Pending(view.kind, api, time.monotonic(), h)
        try:
            self._answer(h, ctx)
        finally:
            with state.lock:
                state.pending.pop(token, None)

    def _answer(self, h: GatewayHandler, ctx: _Ctx) -> None:
        """Answer one accepted request in the Gateway's mode (budget first)."""
        state = ctx.state
        err = wire.anthropic_error if ctx.api == "anthropic" else wire.openai_error
        if self.budget_exceeded:
            msg = (f"harness gateway: run token budget {self.budget_tokens} exhausted "
                   f"({self.total_usage().total_tokens} used); no further model calls")
            log.warning(msg)
            self._record(ctx, BUDGET_STATUS, note="budget exceeded")
            h.send_json(BUDGET_STATUS, err(BUDGET_STATUS, msg, "budget_exceeded"))
            return
        try:
            if self.mode == "scripted":
                self._scripted(h, ctx)
            elif self.mode == "replay":
                serve_replay(self, h, ctx)
            else:
                serve_forward(self, h, ctx)
        except (BrokenPipeError, ConnectionResetError) as exc:
            log.info("gateway: client of trial %s went away: %s", state.key.trial_id, exc)
            if not ctx.recorded:
                self._record(ctx, 499, note="client went away")

    def _record(self, ctx: _Ctx, status: int, *, rule: str = "", note: str = "",
                final: bool = False, tokens: tuple[int, int] = (0, 0)) -> None:
        """Keep the exchange and its usage. Called *before* the last byte goes out, so a
        client that has its answer can already see the exchange; see :meth:`_final`."""
        ctx.recorded = True
        ex = Exchange(ctx.state.key.trial_id, ctx.api, ctx.path, ctx.view.kind, ctx.turn,
                      ctx.view.step, ctx.view, ctx.request, ctx.headers, status, rule, note,
                      final, ctx.started, time.time())
        with ctx.state.lock:
            ctx.state.exchanges.append(ex)
            ctx.state.usage = ctx.state.usage.plus(Usage(1, tokens[0], tokens[1]))

    def _final(self, ctx: _Ctx, status: int, *, final: bool, rule: str = "") -> None:
        """Timestamp the moment right after the last byte was flushed to the client."""
        if final:
            self._event(ctx, "final_answer", rule)
        self._event(ctx, "response_end", str(status))

    def _error(self, h: GatewayHandler, ctx: _Ctx, status: int, message: str, *,
               rule: str = "", etype: str | None = None, retry_after: float | None = None
               ) -> None:
        err = wire.anthropic_error if ctx.api == "anthropic" else wire.openai_error
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self._record(ctx, status, rule=rule, note=message)
        h.send_json(status, err(status, message, etype), headers)
        self._final(ctx, status, final=False)

    # ------------------------------------------------------------------ scripted
    def _scripted(self, h: GatewayHandler, ctx: _Ctx) -> None:
        view = ctx.view
        in_tok = wire.estimate_tokens(ctx.raw)
        if view.kind == "count_tokens":
            self._record(ctx, 200, rule="count_tokens")
            h.send_json(200, {"input_tokens": in_tok})
            return
        fault: Fault | None = None
        text: str | None
        calls: tuple[Call, ...]
        if view.kind == "title":
            title = ctx.state.script.policy.title if ctx.state.script else "Harness task"
            text, calls, rule = self._title_text(title, view, ctx.request), (), "title"
        else:
            state = ctx.state
            assert state.script is not None
            with state.lock:
                decision = state.script.decide(view, ctx.turn)
            rule, fault = decision.rule_name, decision.fault
            if decision.reply is None:
                msg = (f"harness scripted: no rule matches turn {ctx.turn} step {view.step}, "
                       f"user text {view.user_text[:80]!r}")
                log.warning("trial %s: %s", state.key.trial_id, msg)
                self._error(h, ctx, 400, msg, rule=rule)
                return
            if fault is not None and fault.latency_sec and self._closing.wait(fault.latency_sec):
                return
            if fault is not None and fault.status is not None:
                self._error(h, ctx, fault.status,
                            fault.message or f"harness fault injection: {fault.status}",
                            rule=rule, retry_after=fault.retry_after_sec)
                return
            reply = decision.reply
            if reply.error is not None:
                e = reply.error
                self._error(h, ctx, e.status, e.message, rule=rule, etype=e.type,
                            retry_after=e.retry_after_sec)
                return
            text, calls = reply.text, tuple(reply.all_calls())
        ids = f"{ctx.turn}_{view.step}" + ("t" if view.kind == "title" else "")
        ans = wire.Answer(text=text, calls=calls, ids=ids, model=view.model or "harness",
                          input_tokens=in_tok)
        final = view.kind == "main" and not calls
        tokens = (in_tok, ans.out_tokens())
        cut = fault.cut_after_events if fault is not None else None
        if not view.stream:
            body = wire.anthropic_message(ans) if ctx.api == "anthropic" \
                else wire.openai_response(ans)
            self._record(ctx, 200, rule=rule, final=final, tokens=tokens)
            h.send_json(200, body)
            self._final(ctx, 200, final=final, rule=rule)
            return
        events = wire.anthropic_events(ans) if ctx.api == "anthropic" \
            else wire.openai_events(ans)
        h.start_stream()
        delay = fault.event_delay_sec if fault is not None else 0.0
        for i, (name, data) in enumerate(events):
            if delay and i and self._closing.wait(delay):
                return
            chunk = wire.sse_bytes(name, data)
            if cut is not None and i == cut:
                self._record(ctx, 200, rule=rule, note=f"stream cut in event {i}",
                             tokens=tokens)
                h.write_chunk(chunk[: len(chunk) // 2])
                h.cut()
                return
            h.write_chunk(chunk)
        self._record(ctx, 200, rule=rule, final=final, tokens=tokens)
        h.end_stream()
        self._final(ctx, 200, final=final, rule=rule)

    @staticmethod
    def _title_text(title: str, view: RequestView, req: dict[str, Any]) -> str:
        """Both CLIs ask for ``{"title": ...}`` through a JSON schema (claude in
        ``output_config.format``, codex in ``text.format``); plain text otherwise."""
        fmt = (req.get("output_config") or {}).get("format") or \
            (req.get("text") or {}).get("format") or {}
        wants_json = fmt.get("type") == "json_schema" or "json" in view.system.lower()
        return json.dumps({"title": title}) if wants_json else title
