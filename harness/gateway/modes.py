"""The Gateway's modes as objects: replay a cassette, or forward to the real API (record,
passthrough). Scripted lives in :mod:`.scripted`; :func:`make_mode` builds any of them.

Why objects that own their state: the cassette entries, the per-trial record of which entry
answered which request, the cassette writer and the upstream's connection pool each belong
to one mode; a mode is started with the Gateway's server and closed after it, and answers
through :class:`~.context.RequestContext` and the request's wire only.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, GatewayError

from .cassette import CassetteWriter, Entry, find_entry, load_cassette, match_key
from .context import Mode, RequestContext
from .scripted import Scripted
from .upstream import Forwarder, Upstream
from .wires import estimate_tokens, summarize

log = logging.getLogger("harness.gateway")

MODES = ("scripted", "record", "replay", "passthrough")


def make_mode(name: str, *, cassette: str | Path | None, upstream: Upstream | None,
              closing: threading.Event) -> Mode:
    """The mode called ``name``; a missing cassette or a bad one is refused here."""
    if name not in MODES:
        raise ConfigError(f"gateway mode {name!r} unknown; use one of {', '.join(MODES)}")
    if name in ("record", "replay") and cassette is None:
        raise ConfigError(f"gateway mode {name!r} needs a cassette path")
    if name == "scripted":
        return Scripted(closing)
    if name == "replay":
        assert cassette is not None
        return Replay(load_cassette(cassette))
    return Forward(name, upstream or Upstream.from_env(),
                   Path(cassette) if name == "record" and cassette is not None else None)


class Replay:
    """Serve the cassette entry matching each request, or refuse at once with the reason."""

    name = "replay"
    stall_source = "the replay Gateway"

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self._by_line = {e.line: e for e in entries}
        self._lock = threading.Lock()
        #: per trial: which entry answered (kind, turn, step), and the lines served
        self._served: dict[str, dict[tuple[Any, ...], int]] = {}
        self._used: dict[str, set[int]] = {}

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _entry_for(self, ctx: RequestContext) -> Entry | None:
        """The entry already serving this slot (a retry), else the next unused match."""
        slot = (ctx.view.kind, ctx.turn, ctx.view.step)
        with self._lock:
            served = self._served.setdefault(ctx.trial_id, {})
            used = self._used.setdefault(ctx.trial_id, set())
            line = served.get(slot)
            entry = self._by_line.get(line) if line else \
                find_entry(self.entries, match_key(ctx.view), used)
            if entry is not None:
                served[slot] = entry.line
                used.add(entry.line)
        return entry

    def answer(self, ctx: RequestContext) -> None:
        view, h = ctx.view, ctx.reply
        if view.kind == "count_tokens":
            ctx.record(200, rule="count_tokens")
            h.send_json(200, ctx.wire.count_reply(estimate_tokens(ctx.raw)))
            return
        entry = self._entry_for(ctx)
        if entry is None:
            msg = (f"harness replay: no cassette entry matches {ctx.api} {view.kind} "
                   f"step {view.step}, user text {view.user_text[:80]!r}")
            log.warning("trial %s: %s", ctx.trial_id, msg)
            ctx.error(400, msg, rule="replay-miss")
            return
        stream = "event-stream" in entry.content_type
        inp, out, final = summarize(ctx.wire, entry.body, stream=stream)
        final = final and view.kind == "main"
        rule = f"cassette line {entry.line}"
        if stream and entry.status < 300:
            h.start_stream(entry.status, entry.content_type)
            for part in entry.body.split("\n\n"):
                if part:
                    h.write_chunk(part.encode() + b"\n\n")
            ctx.record(entry.status, rule=rule, final=final, tokens=(inp, out))
            h.end_stream()
        else:
            ctx.record(entry.status, rule=rule, final=final, tokens=(inp, out))
            h.send_raw(entry.status, entry.body.encode(), entry.content_type)
        ctx.finish(entry.status, final=final, rule=rule)


class Forward:
    """Forward to the upstream, streaming each chunk through as it arrives; in record mode
    also append every exchange to the cassette."""

    stall_source = "the upstream model API"

    def __init__(self, name: str, upstream: Upstream, cassette: Path | None) -> None:
        self.name = name
        self.upstream = upstream
        self._cassette = cassette
        self._writer: CassetteWriter | None = None
        self._fwd: Forwarder | None = None

    def start(self) -> None:
        if self._cassette is not None and self._writer is None:
            self._writer = CassetteWriter(self._cassette)
        if self._fwd is None:
            self._fwd = self.upstream.connect()

    def close(self) -> None:
        if self._fwd is not None:
            self._fwd.close()
        if self._writer is not None:
            self._writer.close()

    def answer(self, ctx: RequestContext) -> None:
        assert self._fwd is not None, "mode not started"
        h = ctx.reply
        try:
            up = self._fwd.open(ctx.wire, ctx.path, dict(h.headers), ctx.raw)
        except GatewayError as exc:
            log.warning("gateway: %s", exc)
            ctx.error(502, f"harness gateway: {exc}")
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
            final = self._keep(ctx, up.status, up.content_type, b"".join(buf), stream)
            done = True
            if stream:
                h.end_stream()
            else:
                h.send_raw(up.status, b"".join(buf), up.content_type, extra)
            ctx.finish(up.status, final=final, rule=self.name)
        except GatewayError as exc:  # the upstream broke off mid-answer: so does the client
            log.warning("gateway: %s", exc)
            h.cut()
        finally:
            up.close()
            if not done:  # client or upstream broke mid-way: keep what was seen
                self._keep(ctx, up.status, up.content_type, b"".join(buf), stream,
                           note="interrupted")

    def _keep(self, ctx: RequestContext, status: int, content_type: str, raw: bytes,
              stream: bool, note: str = "") -> bool:
        """Append the exchange to the cassette (record mode) and account it; True if final."""
        body = raw.decode("utf-8", "replace")
        inp, out, final = summarize(ctx.wire, body, stream=stream)
        final = final and ctx.view.kind == "main" and not note
        if self._writer is not None:
            self._writer.append(api=ctx.api, path=ctx.path, trial=ctx.trial_id,
                                request=ctx.request, status=status,
                                content_type=content_type, body=body, recorded_at=time.time())
        ctx.record(status, rule=self.name, note=note, final=final, tokens=(inp, out))
        return final
