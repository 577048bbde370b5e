"""The gate's input and output models.

Pydantic at the boundary (trial records read from a run's store or a JSON file, and the
decision written to reports), frozen dataclasses inside (the evidence a check looks at).
The runner builds one :class:`TrialRecord` per Trial and one :class:`TrialEvidence` while the
sandbox is still alive, so workspace checks can run commands in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Split = Literal["train", "heldout", "frozen"]
Status = Literal["passed", "failed", "timeout", "agent_error", "infra_error"]
Decision = Literal["accept", "reject", "inconclusive"]
#: The model behind a run's Gateway; record and live are real (stochastic) models.
ModelMode = Literal["scripted", "replay", "record", "live"]
#: Which gate rule decided a candidate's verdict (decision.py's docstring lists them in order).
Rule = Literal["unscorable", "reject-guard", "too-few-tasks", "lift", "min-attempts", "holm"]

#: Statuses whose score means something; the others are machinery failures.
SCORABLE_STATUSES: frozenset[str] = frozenset({"passed", "failed", "timeout"})

#: ``exec(cmd, timeout_sec) -> (exit_code, stdout, stderr)``; runs argv in the trial's sandbox.
ExecFn = Callable[[list[str], float], tuple[int, str, str]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckResult(_Model):
    """One check's verdict. ``passed=None`` means it could not be judged (unscorable)."""

    name: str
    op: str
    passed: bool | None
    score: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    weight: float = Field(default=1.0, ge=0.0)


class Tokens(_Model):
    input: int = Field(default=0, ge=0)
    output: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return self.input + self.output


class Artifacts(_Model):
    """Where a trial's evidence lives: paths relative to ``dir``, itself relative to the run."""

    dir: str | None = None
    pane: str | None = "pane.txt"
    cast: str | None = "session.cast"
    transcript: str | None = "transcript.jsonl"
    diff: str | None = "diff.patch"


class TrialRecord(_Model):
    """One (task, variant, attempt) outcome as the runner stores it."""

    run_id: str
    task_id: str
    variant: str
    attempt: int = Field(ge=0)
    split: Split
    status: Status
    reason: str = ""
    check_results: list[CheckResult] = Field(default_factory=list)
    tokens: Tokens = Field(default_factory=Tokens)
    duration_sec: float = Field(default=0.0, ge=0.0)
    tool_turns: int = Field(default=0, ge=0)
    steps_to_green: int | None = None
    error_signatures: list[str] = Field(default_factory=list)
    artifacts: Artifacts = Field(default_factory=Artifacts)
    derived_from: list[str] = Field(
        default_factory=list,
        description="task ids the variant under test was derived from (leakage guard)",
    )

    @property
    def scorable(self) -> bool:
        """Only passed / failed / timeout trials carry a score; a judge outage also voids it."""
        if self.status not in SCORABLE_STATUSES:
            return False
        return all(c.passed is not None for c in self.check_results)


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation from the transcript."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    is_error: bool = False


@dataclass(frozen=True)
class TrialEvidence:
    """Everything a check may look at. ``exec`` is None once the sandbox is gone."""

    final_answer: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    diff: str = ""
    changed_paths: tuple[str, ...] = ()
    exec: ExecFn | None = None


class TaskRow(_Model):
    """One row of the per-task table: baseline against one candidate."""

    task_id: str
    split: Split
    baseline_score: float | None
    candidate_score: float | None
    delta: float | None
    baseline_trials: int
    candidate_trials: int
    baseline_unscorable: int
    candidate_unscorable: int
    regressed: bool = False
    baseline_pass_rate: float | None = Field(
        default=None, description="hard passes over scorable attempts"
    )
    baseline_pass_ci: tuple[float, float] | None = Field(
        default=None, description="Jeffreys interval of the pass rate, at the policy's confidence"
    )
    candidate_pass_rate: float | None = None
    candidate_pass_ci: tuple[float, float] | None = None


class VariantMetrics(_Model):
    """Item 4's metrics for one variant over all its trials."""

    variant: str
    trials: int
    scorable: int
    unscorable: int
    pass_rate: float | None
    mean_mixed: float | None
    pass_at_k: dict[str, float] = Field(default_factory=dict)
    mean_steps_to_green: float | None
    repeat_error_rate: float | None
    mean_tokens: float | None
    mean_duration_sec: float | None


class CandidateDecision(_Model):
    """The verdict for one candidate against the baseline."""

    candidate: str
    decision: Decision
    reasons: list[str]
    lift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rule: Rule | None = Field(default=None, description="the rule that decided the verdict")
    p_value: float | None = Field(
        default=None, description="one-sided bootstrap p-value for lift <= min_lift"
    )
    p_holm: float | None = Field(
        default=None, description="Holm-adjusted p_value over the run's candidates"
    )
    tasks: list[TaskRow] = Field(default_factory=list)


class GateDecision(_Model):
    """The gate's answer for a run: the best candidate's verdict, and every candidate's."""

    run_id: str
    baseline: str
    decision: Decision
    chosen: str | None = None
    reasons: list[str]
    candidates: list[CandidateDecision]
    metrics: list[VariantMetrics] = Field(default_factory=list)
    policy: dict[str, Any] = Field(default_factory=dict)

    @property
    def tasks(self) -> list[TaskRow]:
        """The per-task table of the chosen candidate (else the first one compared)."""
        pick = next((c for c in self.candidates if c.candidate == self.chosen), None)
        pick = pick or (self.candidates[0] if self.candidates else None)
        return pick.tasks if pick else []

    @property
    def exit_code(self) -> int:
        """CI contract: 0 accept, 1 reject, 2 inconclusive."""
        return {"accept": 0, "reject": 1, "inconclusive": 2}[self.decision]
