"""Replay, record and passthrough: serving a cassette, or forwarding to the real API.

Kept apart from :mod:`.server` so the Gateway's core (routing, trials, scripted answers)
stays readable; these functions use the Gateway's private recording helpers on purpose.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from harness.errors import GatewayError

from . import wire
from .cassette import find_entry, match_key, summarize

if TYPE_CHECKING:
    from .httpd import GatewayHandler
    from .server import Gateway, _Ctx

log = logging.getLogger("harness.gateway")


def serve_replay(gw: Gateway, h: GatewayHandler, ctx: _Ctx) -> None:
    """Serve the cassette entry for this request, or refuse at once with the reason."""
    view = ctx.view
    if view.kind == "count_tokens":
        gw._record(ctx, 200, rule="count_tokens")
        h.send_json(200, {"input_tokens": wire.estimate_tokens(ctx.raw)})
        return
    slot = (view.kind, ctx.turn, view.step)
    with ctx.state.lock:
        line = ctx.state.replay_served.get(slot)
        entry = next((e for e in gw._entries if e.line == line), None) if line else \
            find_entry(gw._entries, match_key(view), ctx.state.replay_used)
        if entry is not None:
            ctx.state.replay_served[slot] = entry.line
            ctx.state.replay_used.add(entry.line)
    if entry is None:
        msg = (f"harness replay: no cassette entry matches {ctx.api} {view.kind} "
               f"step {view.step}, user text {view.user_text[:80]!r}")
        log.warning("trial %s: %s", ctx.state.key.trial_id, msg)
        gw._error(h, ctx, 400, msg, rule="replay-miss")
        return
    stream = "event-stream" in entry.content_type
    inp, out, final = summarize(ctx.api, entry.body, stream=stream)
    final = final and view.kind == "main"
    rule = f"cassette line {entry.line}"
    if stream and entry.status < 300:
        h.start_stream(entry.status, entry.content_type)
        for part in entry.body.split("\n\n"):
            if part:
                h.write_chunk(part.encode() + b"\n\n")
        gw._record(ctx, entry.status, rule=rule, final=final, tokens=(inp, out))
        h.end_stream()
    else:
        gw._record(ctx, entry.status, rule=rule, final=final, tokens=(inp, out))
        h.send_raw(entry.status, entry.body.encode(), entry.content_type)
    gw._final(ctx, entry.status, final=final, rule=rule)


def serve_forward(gw: Gateway, h: GatewayHandler, ctx: _Ctx) -> None:
    """Forward to the upstream, streaming each chunk through as it arrives."""
    assert gw.upstream is not None
    try:
        up = gw.upstream.open(ctx.api, ctx.path, dict(h.headers), ctx.raw)
    except GatewayError as exc:
        log.warning("gateway: %s", exc)
        gw._error(h, ctx, 502, f"harness gateway: {exc}")
        return
    buf: list[bytes] = []
    stream = "event-stream" in (up.content_type or "")
    extra = {"retry-after": up.retry_after} if up.retry_after else {}
    done = False
    try:
        if stream:
            h.start_stream(up.status, up.content_type, extra)
            for chunk in up.chunks():
                buf.append(chunk)
                h.write_chunk(chunk)
        else:
            buf.extend(up.chunks())
        final = _keep(gw, ctx, up.status, up.content_type, b"".join(buf), stream)
        done = True
        if stream:
            h.end_stream()
        else:
            h.send_raw(up.status, b"".join(buf), up.content_type, extra)
        gw._final(ctx, up.status, final=final, rule=gw.mode)
    finally:
        up.close()
        if not done:  # client or upstream broke mid-way: keep what was seen
            _keep(gw, ctx, up.status, up.content_type, b"".join(buf), stream,
                       note="interrupted")

def _keep(gw: Gateway, ctx: _Ctx, status: int, content_type: str, raw: bytes, stream: bool,
      note: str = "") -> bool:
    """Append the exchange to the cassette (record mode) and account it; True if final."""
    body = raw.decode("utf-8", "replace")
    inp, out, final = summarize(ctx.api, body, stream=stream)
    final = final and ctx.view.kind == "main" and not note
    if gw._writer is not None:
        gw._writer.append(api=ctx.api, path=ctx.path, trial=ctx.state.key.trial_id,
                            request=ctx.request, status=status, content_type=content_type,
                            body=body, recorded_at=time.time())
    gw._record(ctx, status, rule=gw.mode, note=note, final=final, tokens=(inp, out))
    return final
