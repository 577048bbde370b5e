"""The scripted policy: ordered YAML rules that say what the model answers.

Why rules and not a fixed transcript: the CLIs send extra requests (titles, retries,
count_tokens) whose number drifts between versions, so a policy matches on what a request
*says* (latest human text, turn, tool results, system prompt, skills) rather than on its
position in the stream. The first matching rule wins; title requests never reach the rules.

Fields (all optional unless said):

- ``version: 1``; ``title``: the text answered to the CLIs' title requests (as
  ``{"title": ...}`` when they ask for JSON); ``default``: a reply when no rule matches
  (without it an unmatched request gets an immediate HTTP 400 naming turn, step and text).
- ``rules[].match`` -- every given criterion must hold: ``user`` (regex searched in the
  latest human text, claude's ``<system-reminder>`` blocks and codex's context messages
  removed), ``system`` (regex on the system prompt / codex instructions and developer
  messages), ``skill`` (regex on each ``name: description`` skill line), ``tool_result``
  (regex on each tool output in the last message; ``""`` = any tool output), ``text``
  (regex on all text of the request), ``turn`` (1-based human turn of the trial: int, list,
  or a regex on the number), ``step`` (tool rounds since that human message, 0 first),
  ``api`` (a wire name: ``anthropic``, ``openai``, ``openai_chat`` or ``gemini``, see
  :mod:`.wires`).
- ``rules[].reply`` (required) -- ``text`` and/or ``calls`` (``{shell, description}`` for
  the shell tool, or ``{tool, input}`` sent verbatim), ``shell`` as a one-call shorthand, or
  ``error: {status, message, type, retry_after_sec}`` alone.
- ``rules[].times`` -- answer at most N distinct requests, then fall through.
- ``rules[].fault`` -- ``status`` (answer this HTTP error instead), ``latency_sec`` (wait
  first), ``event_delay_sec`` (pause between SSE events), ``cut_after_events`` (send N
  whole events, half of the next, then drop the connection), ``first`` (only the first N
  attempts; later ones get the reply), ``retry_after_sec``, ``message``.

Example::

    version: 1
    rules:
      - name: write-file
        match: {user: "create hello", step: 0}
        reply:
          text: "Creating it."
          calls: [{shell: "echo hi > hello.txt", description: "write hello.txt"}]
      - name: after-tool
        match: {tool_result: ".*"}
        fault: {status: 529, first: 1}      # first attempt overloaded, the retry succeeds
        reply: {text: "Done."}
    default: {text: "I have nothing scripted for that."}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import LocatedError, ValidationFailed

from . import wires
from .view import RequestView


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(v: str | None) -> str | None:
    if v is not None:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"bad regex {v!r}: {exc}") from None
    return v


class Call(_Strict):
    """One tool call. ``shell`` is the abstract shell tool (claude ``Bash``, codex
    ``exec_command``, a Chat Completions client's own shell function); ``tool`` + ``input``
    is sent verbatim under that name (e.g. ``Skill``)."""

    shell: str | None = None
    description: str = ""
    tool: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Call:
        if (self.shell is None) == (self.tool is None):
            raise ValueError("a call needs exactly one of `shell` or `tool`")
        return self


class ErrorReply(_Strict):
    status: int = Field(ge=400, le=599)
    message: str = "injected by the harness gateway"
    type: str | None = None
    retry_after_sec: float | None = None


class Reply(_Strict):
    text: str | None = None
    calls: list[Call] = Field(default_factory=list)
    shell: str | None = None
    error: ErrorReply | None = None

    @model_validator(mode="after")
    def _something(self) -> Reply:
        if self.error is None and self.text is None and not self.calls and self.shell is None:
            raise ValueError("a reply needs `text`, `calls`, `shell` or `error`")
        if self.error is not None and (self.text is not None or self.calls or self.shell):
            raise ValueError("`error` cannot be combined with text or calls")
        return self

    def all_calls(self) -> list[Call]:
        extra = [Call(shell=self.shell)] if self.shell is not None else []
        return [*self.calls, *extra]


class Fault(_Strict):
    """Misbehaviour before or instead of the reply; ``first`` limits it to the first N hits."""

    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None
    latency_sec: float = Field(default=0.0, ge=0, le=600)
    event_delay_sec: float = Field(default=0.0, ge=0, le=60)
    cut_after_events: int | None = Field(default=None, ge=0)
    first: int | None = Field(default=None, ge=1)
    retry_after_sec: float | None = Field(default=None, ge=0)


IntMatch = int | list[int] | str


class Match(_Strict):
    user: str | None = None
    system: str | None = None
    skill: str | None = None
    tool_result: str | None = None
    text: str | None = None
    turn: IntMatch | None = None
    step: IntMatch | None = None
    api: str | None = None  # a wire name (harness.gateway.wires)

    @field_validator("api")
    @classmethod
    def _wire(cls, v: str | None) -> str | None:
        if v is not None and v not in wires.names():
            raise ValueError(f"unknown api {v!r}; use one of {', '.join(wires.names())}")
        return v

    @field_validator("user", "system", "skill", "tool_result", "text")
    @classmethod
    def _regexes(cls, v: str | None) -> str | None:
        return _check_regex(v)

    @field_validator("turn", "step")
    @classmethod
    def _int_or_regex(cls, v: IntMatch | None) -> IntMatch | None:
        return _check_regex(v) if isinstance(v, str) else v


class Rule(_Strict):
    name: str | None = None
    match: Match = Field(default_factory=Match)
    reply: Reply
    fault: Fault | None = None
    times: int | None = Field(default=None, ge=1)


class Policy(_Strict):
    version: Literal[1] = 1
    title: str = "Harness task"
    rules: list[Rule] = Field(default_factory=list)
    default: Reply | None = None


def _int_matches(spec: IntMatch | None, value: int) -> bool:
    if spec is None:
        return True
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int):
        return spec == value
    if isinstance(spec, list):
        return value in spec
    return re.fullmatch(spec, str(value)) is not None


def _search(pattern: str | None, text: str) -> bool:
    return pattern is None or re.search(pattern, text, re.MULTILINE) is not None


def rule_matches(m: Match, view: RequestView, turn: int) -> bool:
    """True when every given criterion holds; an absent criterion matches anything."""
    if m.api is not None and m.api != view.api:
        return False
    if m.tool_result is not None and not any(
        re.search(m.tool_result, r, re.MULTILINE) for r in view.tool_results
    ):
        return False
    if m.skill is not None and not any(
        re.search(m.skill, f"{n}: {d}") for n, d in view.skills
    ):
        return False
    return (
        _search(m.user, view.user_text)
        and _search(m.system, view.system)
        and _search(m.text, view.all_text)
        and _int_matches(m.turn, turn)
        and _int_matches(m.step, view.step)
    )


@dataclass(frozen=True)
class Decision:
    """What to send: the reply, and the fault to apply this time (None once exhausted)."""

    rule_index: int | None
    rule_name: str
    reply: Reply | None
    fault: Fault | None


@dataclass
class ScriptState:
    """Per-trial memory of rule use. A retried request (same turn and step) re-uses the rule
    it got before, so ``times`` counts answers, not attempts, and ``first`` counts attempts."""

    policy: Policy
    used: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    chosen: dict[tuple[int, int], int] = field(default_factory=dict)
    fault_hits: dict[int, int] = field(default_factory=dict)

    def decide(self, view: RequestView, turn: int) -> Decision:
        slot = (turn, view.step)
        idx = self.chosen.get(slot)
        if idx is None:
            for i, rule in enumerate(self.policy.rules):
                uses = self.used.get(i, set())
                if rule.times is not None and len(uses) >= rule.times:
                    continue
                if rule_matches(rule.match, view, turn):
                    idx = i
                    break
        if idx is None:
            return Decision(None, "default", self.policy.default, None)
        self.chosen[slot] = idx
        self.used.setdefault(idx, set()).add(slot)
        rule = self.policy.rules[idx]
        fault = rule.fault
        if fault is not None:
            hits = self.fault_hits.get(idx, 0) + 1
            self.fault_hits[idx] = hits
            if fault.first is not None and hits > fault.first:
                fault = None
        return Decision(idx, rule.name or f"rule[{idx}]", rule.reply, fault)


def _node_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the deepest YAML node that the pydantic error path reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            nxt = node.value[key] if key < len(node.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every problem is reported with its file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(f"policy {p}", [LocatedError(str(p), str(exc))]) from exc
    return parse_policy(text, where=str(p))


def parse_policy(text: str, *, where: str = "<policy>") -> Policy:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        err = LocatedError(f"{where}:{line}", f"YAML: {exc.problem or exc}")
        raise ValidationFailed(f"policy {where}", [err]) from exc
    return _validate(data, where, node)


def policy_from(source: Policy | str | Path | dict[str, Any] | None, *,
                where: str = "<inline policy>") -> Policy | None:
    """Accept what task files hold: a Policy, a file path, an inline mapping, or None."""
    if source is None or isinstance(source, Policy):
        return source
    if isinstance(source, (str, Path)):
        return load_policy(source)
    return _validate(source, where, None)


def check_policy(source: str | Path | dict[str, Any], *, where: str | None = None,
                 node: yaml.Node | None = None) -> list[LocatedError]:
    """Every problem of a policy file or inline mapping at once (empty when it is valid): for
    validators that collect errors before anything runs (``harness tasks validate``, ``run``).
    ``where`` is how to name the file (or the file an inline mapping is in); ``node`` is the
    inline mapping's YAML node, so its errors get lines of that file."""
    try:
        if isinstance(source, dict):
            _validate(source, where or "<inline policy>", node)
        elif where is None:
            load_policy(source)
        else:
            try:
                text = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return [LocatedError(where, f"cannot read the policy: {exc}")]
            parse_policy(text, where=where)
    except ValidationFailed as exc:
        return list(exc.errors)
    return []


def _validate(data: Any, where: str, node: yaml.Node | None) -> Policy:
    """Pydantic validation with each error placed at a line (files) or a field (mappings)."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"policy {where}", [LocatedError(f"{where}:1", "expected a mapping with `rules`")]
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = tuple(k for k in e["loc"] if not (isinstance(k, str) and "[" in k))
            field_path = ".".join(str(k) for k in loc)
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = f"unknown field {loc[-1]!r}" if loc else "unknown field"
            at = f"{where}:{_node_line(node, loc)}" if node is not None else where
            errors.append(LocatedError(at, f"{field_path}: {msg}"))
        raise ValidationFailed(f"policy {where}", errors) from exc
