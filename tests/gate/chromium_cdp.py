"""Headless Chromium driven over the DevTools protocol on a pipe: open a page, wait until a
condition holds in it, read its DOM (or a screenshot).

Why not ``--dump-dom --virtual-time-budget``: virtual time runs ahead while the browser
compiles WebAssembly off the main thread, so a page whose player starts after an async
compile (asciinema-player) can be dumped before it drew anything. Waiting for a condition
in the page itself has no such race. ``--remote-debugging-pipe`` needs no port and no
client library: NUL-separated JSON on fds 3 (to Chromium) and 4 (from it).
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Self

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # nothing may leave this machine: every host name fails to resolve, every proxyable
    # request goes to a closed loopback port (the pages are file:// and self-contained)
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--disable-quic",
]


class PageTimeout(AssertionError):
    """The condition never held; carries what the page showed."""


class Browser:
    """One Chromium process for one page; ``with Browser(...) as b:`` ends it."""

    def __init__(self, chromium: str, tmp: Path, *extra: str, timeout_sec: float = 90) -> None:
        self.timeout_sec = timeout_sec
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        profile = tmp / f"profile-{uuid.uuid4().hex[:6]}"
        argv = [chromium, *FLAGS, f"--user-data-dir={profile}", *extra]
        argv += ["--remote-debugging-pipe", "about:blank"]
        # Chromium reads fd 3 and writes fd 4: bash (dash refuses fds above 9) puts the pipe
        # ends there, then execs it.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_r} 4>&{from_w}', "bash", *argv],
            pass_fds=(to_r, from_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.session = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask Chromium to quit (so it finishes files such as a net log), then make sure."""
        if self.proc.poll() is None:
            try:
                msg = {"id": self._next_id + 1, "method": "Browser.close", "params": {}}
                os.write(self._to_w, json.dumps(msg).encode() + b"\0")
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                raise PageTimeout("Chromium sent nothing in time")
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                raise self._died()
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def _died(self) -> AssertionError:
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        return AssertionError(f"Chromium exited ({self.proc.returncode}): {err[-2000:]}")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command (to the page's session once attached) and return its result."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        try:
            os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise self._died() from None
        deadline = time.monotonic() + self.timeout_sec
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_sec
        while True:
            for i, ev in enumerate(self._events):
                if ev["method"] == method:
                    return self._events.pop(i)
            msg = self._read_message(deadline)
            if "method" in msg:
                self._events.append(msg)

    def open(self, url: str, *, width: int = 1100, height: int = 700) -> None:
        """Open ``url`` in a fresh page and wait for its load event."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression; a promise is awaited."""
        res = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in res:
            raise AssertionError(f"{expression[:80]}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_until(self, condition: str, *, timeout_sec: float = 60) -> str:
        """Poll ``condition`` (a JS expression) in the page until it is true; return the DOM.
        Polled from the page's own timers, so no wall-clock guess decides the outcome."""
        poll = (
            "new Promise((ok) => { const t0 = performance.now(); const tick = () => {"
            f" if ({condition}) ok(true); else if (performance.now() - t0 > {timeout_sec * 1000})"
            " ok(false); else setTimeout(tick, 50); }; tick(); })"
        )
        held = self.evaluate(poll)
        html = str(self.evaluate("document.documentElement.outerHTML"))
        if not held:
            raise PageTimeout(f"never true in the page: {condition}\n{html[-3000:]}")
        return html

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path
