"""Scripted mode: answers come from each trial's policy, rendered by the request's wire.

Why a mode object: the scripted answers need only the request (its view, turn and trial
script) and a way to stop waiting when the Gateway closes (injected latency and slow
streams must not hold ``close()`` up); everything wire-specific is asked of the wire.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import TYPE_CHECKING

from .wires import Answer, estimate_tokens, sse_bytes

if TYPE_CHECKING:
    from .context import RequestContext
    from .policy import Call, Fault

log = logging.getLogger("harness.gateway")
#: "JSON" as a word in a title request's system prompt, not a file name's ``.json``
ASKS_JSON = re.compile(r"(?<![.\w])json\b", re.IGNORECASE)


class Scripted:
    """Answer from the policies; ``closing`` cuts injected waits short at close."""

    name = "scripted"
    stall_source = "the scripted Gateway"

    def __init__(self, closing: threading.Event) -> None:
        self._closing = closing

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def answer(self, ctx: RequestContext) -> None:
        view, h = ctx.view, ctx.reply
        in_tok = estimate_tokens(ctx.raw)
        if view.kind == "count_tokens":
            ctx.record(200, rule="count_tokens")
            h.send_json(200, ctx.wire.count_reply(in_tok))
            return
        fault: Fault | None = None
        text: str | None
        calls: tuple[Call, ...]
        state = ctx.state
        if view.kind == "title":
            title = state.script.policy.title if state.script else "Harness task"
            text, calls, rule = self._title_text(title, ctx), (), "title"
        else:
            assert state.script is not None
            with state.lock:
                decision = state.script.decide(view, ctx.turn)
            rule, fault = decision.rule_name, decision.fault
            if decision.reply is None:
                msg = (f"harness scripted: no rule matches turn {ctx.turn} step {view.step}, "
                       f"user text {view.user_text[:80]!r}")
                log.warning("trial %s: %s", ctx.trial_id, msg)
                ctx.error(400, msg, rule=rule)
                return
            if fault is not None and fault.latency_sec and self._closing.wait(fault.latency_sec):
                return
            if fault is not None and fault.status is not None:
                ctx.error(fault.status, fault.message or f"harness fault injection: {fault.status}",
                          rule=rule, retry_after=fault.retry_after_sec)
                return
            reply = decision.reply
            if reply.error is not None:
                e = reply.error
                ctx.error(e.status, e.message, rule=rule, etype=e.type,
                          retry_after=e.retry_after_sec)
                return
            text, calls = reply.text, tuple(reply.all_calls())
        ids = f"{ctx.turn}_{view.step}" + ("t" if view.kind == "title" else "")
        ans = Answer(text=text, calls=calls, ids=ids, model=view.model or "harness",
                     input_tokens=in_tok, request=ctx.request)
        # an answer with calls never ends the turn, however the wire renders them: to a
        # client that declares no tools (aider) a shell call goes out as a fenced block in
        # the text, the client runs it, and the harness's continue message asks for more
        self._send(ctx, ans, rule, fault, final=view.kind == "main" and not calls)

    def _send(self, ctx: RequestContext, ans: Answer, rule: str, fault: Fault | None, *,
              final: bool) -> None:
        """One JSON body, or the wire's SSE events (with injected pauses or a cut). Whether
        the answer ends the turn is also read back from what the wire rendered (the wire's
        own test of a last answer, the one record and replay apply to a body)."""
        h = ctx.reply
        tokens = (ans.input_tokens, ans.out_tokens())
        if not ctx.view.stream:
            body = ctx.wire.reply(ans)
            final = final and ctx.wire.is_final(body)
            ctx.record(200, rule=rule, final=final, tokens=tokens)
            h.send_json(200, body)
            ctx.finish(200, final=final, rule=rule)
            return
        cut = fault.cut_after_events if fault is not None else None
        delay = fault.event_delay_sec if fault is not None else 0.0
        events = ctx.wire.events(ans)
        final = final and any(ctx.wire.is_final(d) for _, d in events if isinstance(d, dict))
        h.start_stream()
        for i, (name, data) in enumerate(events):
            if delay and i and self._closing.wait(delay):
                return
            chunk = sse_bytes(name, data)
            if cut is not None and i == cut:
                ctx.record(200, rule=rule, note=f"stream cut in event {i}", tokens=tokens)
                h.write_chunk(chunk[: len(chunk) // 2])
                h.cut()
                return
            h.write_chunk(chunk)
        ctx.record(200, rule=rule, final=final, tokens=tokens)
        h.end_stream()
        ctx.finish(200, final=final, rule=rule)

    @staticmethod
    def _title_text(title: str, ctx: RequestContext) -> str:
        """The CLIs ask for ``{"title": ...}`` through a JSON schema (where is the wire's
        business) or in the system prompt ("Return JSON"); plain text otherwise. A file name
        is not such an ask: opencode's title prompt, which wants one plain line, shows
        ``@config.json`` among its examples, and a JSON answer became its session title."""
        wants_json = ctx.wire.wants_json(ctx.request) or ASKS_JSON.search(ctx.view.system) is not None
        return json.dumps({"title": title}) if wants_json else title
