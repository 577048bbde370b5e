"""Checks: validate every spec before anything runs, then evaluate one spec on one trial.

A check spec is a dict: ``op``, optional ``name`` and ``weight`` (default 1), plus the op's
arguments. ``op`` is a registry name or ``module:Class`` for a user-provided check. The
registry maps names to ``module:Class`` strings imported lazily, so a miss can list every
known name and a broken optional check cannot break the others.

Why validation is separate and total: a regex that does not compile must fail the suite
load with the file and field, not fail every night silently; and an unknown op must be an
error, never a silent pass. :func:`validate_checks` therefore reports *all* problems at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gate.checks.base import CheckContext, CheckImpl, Param, Verdict, kind_error
from gate.models import CheckResult, TrialEvidence
from harness.errors import ConfigError, LocatedError, ValidationFailed
from harness.registry import Registry

__all__ = [
    "REGISTRY",
    "CheckContext",
    "Verdict",
    "ensure_valid",
    "evaluate",
    "evaluate_all",
    "resolve",
    "validate_checks",
]

REGISTRY: Registry[type] = Registry("check op", {
    "contains": "gate.checks.answer:Contains",
    "not_contains": "gate.checks.answer:NotContains",
    "regex": "gate.checks.answer:Regex",
    "section_present": "gate.checks.answer:SectionPresent",
    "section_contains": "gate.checks.answer:SectionContains",
    "max_chars": "gate.checks.answer:MaxChars",
    "min_chars": "gate.checks.answer:MinChars",
    "no_refusal": "gate.checks.answer:NoRefusal",
    "min_citations": "gate.checks.answer:MinCitations",
    "qrels": "gate.checks.answer:Qrels",
    "file_exists": "gate.checks.workspace:FileExists",
    "file_contains": "gate.checks.workspace:FileContains",
    "diff_touches": "gate.checks.workspace:DiffTouches",
    "diff_not_touches": "gate.checks.workspace:DiffNotTouches",
    "command": "gate.checks.workspace:Command",
    "tests": "gate.checks.workspace:Tests",
    "tool_called": "gate.checks.transcript:ToolCalled",
    "tool_not_called": "gate.checks.transcript:ToolNotCalled",
    "max_turns": "gate.checks.transcript:MaxTurns",
    "max_tokens": "gate.checks.transcript:MaxTokens",
    "rubric": "gate.checks.rubric:Rubric",
})

if TYPE_CHECKING:  # conformance of the built-ins to the seam, proven by mypy
    from gate.checks.answer import Contains
    from gate.checks.rubric import Rubric
    from gate.checks.workspace import Tests

    _conforms: tuple[CheckImpl, ...] = (Contains(), Rubric(), Tests())

_COMMON = {"op", "name", "weight"}
_cache: dict[str, CheckImpl] = {}


def resolve(op: str) -> CheckImpl:
    """The implementation for ``op``; raises ConfigError naming the known ops on a miss."""
    if op in _cache:
        return _cache[op]
    cls = REGISTRY.load(op)  # a miss lists the known ops; module:Class accepted
    impl = cls()
    if not callable(getattr(impl, "run", None)):
        raise ConfigError(f"check {op!r} has no run(args, evidence, ctx) method")
    if not hasattr(impl, "params"):
        setattr(impl, "params", None)  # noqa: B010 - a user check declaring nothing takes any args
    _cache[op] = impl
    return impl


def _params(impl: CheckImpl) -> Mapping[str, Param] | None:
    return getattr(impl, "params", None)


def validate_checks(specs: list[dict[str, Any]], where: str) -> list[LocatedError]:
    """Every problem in ``specs``, each located as ``{where}.checks[i].field``."""
    errors: list[LocatedError] = []
    if not isinstance(specs, list):
        return [LocatedError(f"{where}.checks", f"expected a list, got {type(specs).__name__}")]
    for i, spec in enumerate(specs):
        at = f"{where}.checks[{i}]"
        errors.extend(LocatedError(f"{at}{f'.{f}' if f else ''}", m) for f, m in _problems(spec))
    return errors


def _problems(spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [("", f"a check must be a mapping, got {type(spec).__name__}")]
    op = spec.get("op")
    if not isinstance(op, str) or not op:
        return [("op", "missing" if op is None else f"expected a string, got {op!r}")]
    out: list[tuple[str, str]] = []
    if "name" in spec and not isinstance(spec["name"], str):
        out.append(("name", f"expected a string, got {spec['name']!r}"))
    if "weight" in spec and (kind_error("number", spec["weight"]) or spec["weight"] < 0):
        out.append(("weight", f"expected a number >= 0, got {spec['weight']!r}"))
    try:
        impl = resolve(op)
    except ConfigError as exc:
        return [*out, ("op", exc.one_line())]
    params = _params(impl)
    args = {k: v for k, v in spec.items() if k not in _COMMON}
    if params is not None:
        for key in sorted(set(args) - set(params)):
            out.append(
                (key, f"unknown argument for {op!r} (allowed: {', '.join(params) or 'none'})")
            )
        for key, p in params.items():
            if key not in args:
                if p.required:
                    out.append((key, f"required by {op!r}"))
                continue
            if args[key] is None and not p.required:
                continue
            problem = kind_error(p.kind, args[key])
            if problem is None and p.minimum is not None and args[key] < p.minimum:
                problem = f"must be >= {p.minimum:g}, got {args[key]!r}"
            if problem is None and p.maximum is not None and args[key] > p.maximum:
                problem = f"must be <= {p.maximum:g}, got {args[key]!r}"
            if problem:
                out.append((key, problem))
    if not out:
        out.extend(impl.check_args(args) if hasattr(impl, "check_args") else [])
    return out


def ensure_valid(specs: list[dict[str, Any]], where: str) -> None:
    """Raise :class:`ValidationFailed` with every problem; for loaders that want an exception."""
    errors = validate_checks(specs, where)
    if errors:
        raise ValidationFailed(f"invalid checks in {where}", errors)


def default_name(spec: Mapping[str, Any]) -> str:
    """A readable name for reports when the spec has none: the op and its first argument."""
    if isinstance(spec.get("name"), str) and spec["name"]:
        return str(spec["name"])
    args = [v for k, v in spec.items() if k not in _COMMON]
    first = f":{args[0]}" if args and isinstance(args[0], (str, int, float)) else ""
    return f"{spec.get('op')}{first}"[:80]


def evaluate(
    spec: dict[str, Any], evidence: TrialEvidence, ctx: CheckContext | None = None
) -> CheckResult:
    """Judge one trial with one (validated) spec. Never raises for what a trial did.

    A spec that fails validation is reported as a failed check with the problems, so a
    caller that skipped validation still sees why; a bug inside a check becomes a failed
    check naming the exception rather than a crashed run.
    """
    ctx = ctx or CheckContext()
    op = str(spec.get("op"))
    name = default_name(spec)
    weight = spec.get("weight", 1.0)
    weight = float(weight) if not kind_error("number", weight) and weight >= 0 else 1.0
    problems = _problems(spec)
    if problems:
        why = "; ".join(f"{f or 'spec'}: {m}" for f, m in problems)
        return CheckResult(
            name=name, op=op, passed=False, score=0.0, reason=f"invalid spec: {why}", weight=weight
        )
    impl = resolve(op)
    params = _params(impl) or {}
    args = {k: v for k, v in spec.items() if k not in _COMMON}
    for key, p in params.items():
        args.setdefault(key, p.default)
    try:
        verdict = impl.run(args, evidence, ctx)
    except Exception as exc:  # noqa: BLE001 - one broken check must not sink the trial
        verdict = Verdict(False, 0.0, f"check raised {type(exc).__name__}: {exc}")
    score = min(1.0, max(0.0, float(verdict.score)))
    return CheckResult(
        name=name, op=op, passed=verdict.passed, score=score, reason=verdict.reason, weight=weight
    )


def evaluate_all(
    specs: list[dict[str, Any]], evidence: TrialEvidence, ctx: CheckContext | None = None
) -> list[CheckResult]:
    """All checks of one task on one trial, in spec order."""
    return [evaluate(spec, evidence, ctx) for spec in specs]
