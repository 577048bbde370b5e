"""Helpers shared by the gateway tests: raw HTTP posts, SSE parsing, codex-shaped requests."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import need as need  # the one skip-or-fail rule, re-exported

BASIC_POLICY = """\
version: 1
title: Scripted session
rules:
  - name: shell
    match: {user: "make a file", step: 0}
    reply:
      text: "Creating it."
      calls: [{shell: "echo hi > hello.txt", description: "write hello.txt"}]
  - name: after-tool
    match: {tool_result: ""}
    reply: {text: "Done, file written."}
  - name: hello
    match: {user: "(?i)hello"}
    reply: {text: "Hello from the harness gateway."}
"""


def eventually(pred: Callable[[], bool], timeout_sec: float = 2.0) -> bool:
    """Poll ``pred``; Gateway events are stamped just *after* the last byte is flushed, so a
    client that already has its answer may look a moment before the event exists."""
    deadline = time.monotonic() + timeout_sec
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True



def post(url: str, path: str, body: dict[str, Any], key: str, *, bearer: bool = False,
         timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One raw POST; returns status, headers, the whole body (chunked decoded)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"content-type": "application/json"}
    headers["authorization" if bearer else "x-api-key"] = f"Bearer {key}" if bearer else key
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of an SSE body."""
    out = []
    for block in raw.decode().split("\n\n"):
        name, data = "", None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:].strip())
        if data is not None:
            out.append((name, data))
    return out


def codex_request(text: str, *, outputs: list[str] | None = None, tools: bool = True,
                  stream: bool = True) -> dict[str, Any]:
    """A Responses request shaped like codex 0.169.0's (trimmed)."""
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": "You are a coding agent running in the "
                      "Codex CLI.\n<skills_instructions>\n### Available skills\n"
                      "- greeter: Greets people. (file: r0/greeter/SKILL.md)\n"
                      "</skills_instructions>"}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/w</cwd>\n"
                                           "</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    ]
    for i, out in enumerate(outputs or []):
        items.append({"type": "function_call", "name": "exec_command", "call_id": f"c{i}",
                      "arguments": "{}"})
        items.append({"type": "function_call_output", "call_id": f"c{i}", "output": out})
    body: dict[str, Any] = {"model": "harness-model", "input": items, "stream": stream,
                            "tool_choice": "auto", "parallel_tool_calls": True}
    if tools:
        body["tools"] = [{"type": "function", "name": "exec_command", "parameters": {}}]
    return body
