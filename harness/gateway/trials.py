"""Per-trial bookkeeping: dummy keys, usage, the exchanges seen, and timing events.

Why keys per trial: every agent container gets its own dummy key, so the Gateway can tell
trials apart (token use, scripted turn numbers, exchanges) without trusting anything else
in the request, and the user's real key never has to leave the Gateway.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .policy import Policy, ScriptState
from .view import RequestView

KEY_PREFIX = "sk-harness-"
SECRET_HEADERS = frozenset({"x-api-key", "x-goog-api-key", "authorization",
                            "proxy-authorization", "cookie",
                            "openai-organization", "chatgpt-account-id"})


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers safe to log or store: credentials replaced by a marker."""
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(frozen=True)
class TrialKey:
    """The dummy credential one trial's agent uses; worthless outside this Gateway."""

    trial_id: str
    key: str

    @property
    def last20(self) -> str:
        """What claude stores in ``customApiKeyResponses.approved`` to skip its key dialog."""
        return self.key[-20:]

    def __repr__(self) -> str:
        return f"TrialKey(trial_id={self.trial_id!r}, key='{self.key[:len(KEY_PREFIX)]}...')"


def new_key(trial_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in trial_id)[:40]
    return f"{KEY_PREFIX}{safe}-{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Usage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, other: Usage) -> Usage:
        return Usage(self.requests + other.requests, self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens)


@dataclass(frozen=True)
class Exchange:
    """One request the Gateway answered (or refused), kept for tests and reports."""

    trial_id: str
    api: str
    path: str
    kind: str
    turn: int
    step: int
    view: RequestView
    request: dict[str, Any]
    headers: dict[str, str]
    status: int
    rule: str = ""
    note: str = ""
    final: bool = False
    started: float = 0.0
    finished: float = 0.0


@dataclass(frozen=True)
class GatewayEvent:
    """A timestamped moment. ``kind`` is "final_answer" when the last byte of an answer
    without tool calls was written; ``wall`` is epoch seconds, ``mono`` time.monotonic()."""

    trial_id: str
    kind: str
    api: str
    wall: float
    mono: float
    turn: int = 0
    detail: str = ""


@dataclass
class Pending:
    """A request of a trial the Gateway has not finished answering. ``handler`` is the
    connection's handler: its ``last_write`` says when the client last got a byte."""

    kind: str
    api: str
    started: float  # time.monotonic()
    handler: Any

    def silent_sec(self, at: float) -> float:
        """Seconds since this request last sent the client anything (or since it came)."""
        return at - max(self.started, float(getattr(self.handler, "last_write", 0.0) or 0.0))


@dataclass
class TrialState:
    """Mutable per-trial state, guarded by ``lock`` (handlers run on many threads)."""

    key: TrialKey
    script: ScriptState | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    usage: Usage = field(default_factory=Usage)
    turn: int = 0
    last_human: tuple[int, str] | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    pending: dict[int, Pending] = field(default_factory=dict)
    model: str = ""  # the model the agent was told to use (GET /v1/models lists it)

    def turn_for(self, view: RequestView) -> int:
        """Number the human turns: a new (count, text) of human messages starts one.
        Retries and tool-result follow-ups keep the turn they belong to."""
        if view.kind != "main":
            return max(self.turn, 1)
        key = (view.human_messages, view.user_text)
        if key != self.last_human and view.step == 0:
            self.turn += 1
            self.last_human = key
        return max(self.turn, 1)


def make_state(trial_id: str, policy: Policy | None, *, model: str = "") -> TrialState:
    return TrialState(TrialKey(trial_id, new_key(trial_id)),
                      ScriptState(policy) if policy is not None else None, model=model)


def now() -> tuple[float, float]:
    return time.time(), time.monotonic()
