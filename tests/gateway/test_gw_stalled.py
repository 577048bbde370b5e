"""The Gateway knows a reply that never comes: an open request of a trial that has sent
nothing for a while is reported by ``stalled``, a slow but flowing answer is not, and an
answered request leaves nothing pending. The runner turns that into ``infra_error``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gw_helpers import eventually, post

from harness.gateway import Gateway

BODY = {"model": "m", "max_tokens": 16, "stream": True,
        "messages": [{"role": "user", "content": "go"}]}


def _post_in_background(gw: Gateway, key: str) -> threading.Thread:
    def run() -> None:
        try:
            post(gw.url, "/v1/messages", BODY, key, timeout=30)
        except OSError:
            pass  # the Gateway's close cuts it
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_hung_reply_is_reported_and_an_answered_one_is_not(scripted: Callable[..., Gateway]) -> None:
    gw = scripted("rules:\n  - {match: {user: go}, fault: {latency_sec: 600}, reply: {text: never}}\n")
    key = gw.register_trial("hung").key
    _post_in_background(gw, key)
    assert eventually(lambda: gw.stalled("hung", 0.5) is not None, timeout_sec=10)
    why = gw.stalled("hung", 0.5)
    assert why is not None and "still pending" in why and "anthropic main" in why, why
    assert gw.stalled("hung", 3600) is None  # not silent that long yet

    ok = scripted("rules:\n  - {match: {user: go}, reply: {text: fine}}\n")
    key2 = ok.register_trial("answered").key
    status, _, _ = post(ok.url, "/v1/messages", BODY, key2)
    assert status == 200
    assert eventually(lambda: ok.stalled("answered", 0.0) is None)  # nothing left open


def test_a_slow_but_flowing_stream_is_not_stalled(scripted: Callable[..., Gateway]) -> None:
    """Bytes keep coming (0.4 s apart): silence, not duration, is what counts."""
    gw = scripted("rules:\n  - {match: {user: go}, fault: {event_delay_sec: 0.4}, reply: {text: slow}}\n")
    key = gw.register_trial("slow").key
    t = _post_in_background(gw, key)
    seen_open, seen_stalled = False, False
    t_end = time.monotonic() + 15
    while t.is_alive() and time.monotonic() < t_end:
        with gw._state("slow").lock:  # the test looks at the open requests
            seen_open = seen_open or bool(gw._state("slow").pending)
        seen_stalled = seen_stalled or gw.stalled("slow", 1.5) is not None
        time.sleep(0.05)
    assert seen_open, "the request was never seen open"
    assert not seen_stalled


def test_a_hung_upstream_is_reported(tmp_path: object) -> None:
    """Forwarding (record / live): an upstream that takes the request and never answers."""
    import socket

    from harness.gateway.upstream import Upstream

    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)  # accepts connections (the kernel does), never reads or answers
    up = Upstream(anthropic_url=f"http://127.0.0.1:{lst.getsockname()[1]}", anthropic_key="k",
                  timeout_sec=5)  # also bounds how long close() waits for the handler
    gw = Gateway("passthrough", upstream=up).start()
    try:
        key = gw.register_trial("up").key
        _post_in_background(gw, key)
        assert eventually(lambda: gw.stalled("up", 0.5) is not None, timeout_sec=10)
        assert "upstream model API stalled" in (gw.stalled("up", 0.5) or "")
    finally:
        gw.close()
        lst.close()


def test_waiting_sec_grows_while_the_model_is_silent_and_drops_when_bytes_flow(
        scripted: Callable[..., Gateway]) -> None:
    """What the driver reads to poll the screen slowly: silence so far on the open request,
    0 once answered, and small while a stream keeps sending."""
    gw = scripted("rules:\n  - {match: {user: go}, fault: {latency_sec: 600}, reply: {text: never}}\n")
    key = gw.register_trial("waits").key
    assert gw.waiting_sec("waits") == 0.0  # nothing asked yet
    assert gw.waiting_sec("unknown") == 0.0
    _post_in_background(gw, key)
    assert eventually(lambda: gw.waiting_sec("waits") >= 1.0, timeout_sec=10)

    flow = scripted("rules:\n  - {match: {user: go}, fault: {event_delay_sec: 0.3}, reply: {text: a b c d e f}}\n")
    key2 = flow.register_trial("flows").key
    t = _post_in_background(flow, key2)
    worst = 0.0
    t_end = time.monotonic() + 15
    while t.is_alive() and time.monotonic() < t_end:
        worst = max(worst, flow.waiting_sec("flows"))
        time.sleep(0.02)
    assert not t.is_alive(), "the stream did not finish"
    assert 0.0 < worst < 1.0, worst
    assert flow.waiting_sec("flows") == 0.0
