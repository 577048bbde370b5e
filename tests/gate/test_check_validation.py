"""Spec validation: every problem at once, each naming file and field; user checks by path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from gate.checks import REGISTRY, ensure_valid, evaluate, resolve, validate_checks
from gate.checks.base import BaseCheck, CheckContext, Param, Verdict
from gate.models import TrialEvidence
from harness.errors import ConfigError, ValidationFailed

WHERE = "suites/demo.yaml:tasks[2]"


def test_all_errors_at_once_with_file_and_field() -> None:
    specs: list[Any] = [
        {"op": "regex", "pattern": "(unclosed"},
        {"op": "frobnicate"},
        {"op": "contains"},
        {"op": "max_chars", "value": "12"},
        {"op": "max_chars", "value": True},
        {"op": "contains", "value": "x", "valeu": "typo"},
        {"op": "regex", "pattern": "a", "flags": "iz"},
        {"name": "no op"},
        "not a mapping",
        {"op": "contains", "value": "x", "weight": -1},
        {"op": "qrels", "expected_slugs": [], "k": 0},
        {"op": "rubric", "rubric": "ok", "threshold": 1.5},
        {"op": "tool_called", "tool": "Bash", "args_match": "[bad"},
        {"op": "min_citations", "value": 1, "pattern": "*"},
    ]
    errors = validate_checks(specs, WHERE)
    got = {(e.where.removeprefix(f"{WHERE}.checks"), e.message.split(" ")[0]) for e in errors}
    assert got == {
        ("[0].pattern", "bad"),
        ("[1].op", "unknown"),
        ("[2].value", "required"),
        ("[3].value", "expected"),
        ("[4].value", "expected"),
        ("[5].valeu", "unknown"),
        ("[6].flags", "expected"),
        ("[7].op", "missing"),
        ("[8]", "a"),
        ("[9].weight", "expected"),
        ("[10].k", "must"),
        ("[11].threshold", "must"),
        ("[12].args_match", "bad"),
        ("[13].pattern", "bad"),
    }
    unknown = next(e for e in errors if e.where.endswith("[1].op"))
    assert "contains" in unknown.message and "module:Class" in unknown.message  # lists known ops


def test_empty_expected_slugs_reported_once_kinds_are_fine() -> None:
    errors = validate_checks([{"op": "qrels", "expected_slugs": [], "k": 3}], "f")
    assert [(e.where, e.message) for e in errors] == [
        ("f.checks[0].expected_slugs", "must list at least one slug")
    ]


def test_valid_specs_for_every_registered_op_pass() -> None:
    specs: list[dict[str, Any]] = [
        {"op": "contains", "value": "a"},
        {"op": "not_contains", "value": "a"},
        {"op": "regex", "pattern": "a", "flags": "ims"},
        {"op": "section_present", "heading": "H"},
        {"op": "section_contains", "heading": "H", "value": "v"},
        {"op": "max_chars", "value": 1},
        {"op": "min_chars", "value": 1},
        {"op": "no_refusal"},
        {"op": "min_citations", "value": 1},
        {"op": "qrels", "expected_slugs": ["topics/a-b"], "k": 5},
        {"op": "file_exists", "path": "a"},
        {"op": "file_contains", "path": "a", "pattern": "x"},
        {"op": "diff_touches", "paths": ["a/**"]},
        {"op": "diff_not_touches", "paths": ["b"]},
        {"op": "command", "cmd": ["true"], "expect_exit": 0, "timeout_sec": 5},
        {"op": "tests", "cmd": "pytest", "format": "pytest", "timeout_sec": 60},
        {"op": "tool_called", "tool": "t", "args_match": "x"},
        {"op": "tool_not_called", "tool": "t"},
        {"op": "max_turns", "value": 3},
        {"op": "max_tokens", "value": 3},
        {"op": "rubric", "rubric": "be good", "threshold": 0.7, "model": "m"},
    ]
    assert {s["op"] for s in specs} == set(REGISTRY)
    assert validate_checks(specs, "f") == []


def test_ensure_valid_raises_validation_failed() -> None:
    with pytest.raises(ValidationFailed) as exc:
        ensure_valid([{"op": "nope"}, {"op": "regex", "pattern": "("}], "a.yaml")
    assert len(exc.value.errors) == 2
    assert "a.yaml.checks[0].op" in exc.value.details()


def test_resolve_miss_names_known_ops() -> None:
    with pytest.raises(ConfigError) as exc:
        resolve("nope")
    assert "regex" in exc.value.one_line()


def test_unvalidated_bad_spec_evaluates_to_failed_not_crash() -> None:
    r = evaluate({"op": "regex", "pattern": "("}, TrialEvidence(final_answer="x"))
    assert r.passed is False and "invalid spec" in r.reason


class WordCount(BaseCheck):
    """A user-provided check loaded by ``module:Class``."""

    params: ClassVar[Mapping[str, Param]] = {"min": Param("int")}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = len(evidence.final_answer.split())
        return Verdict.of(n >= args["min"], f"{n} words")


class Exploding(BaseCheck):
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        raise RuntimeError("bug in user check")


def test_user_check_by_module_path() -> None:
    op = f"{__name__}:WordCount"
    assert validate_checks([{"op": op, "min": 2}], "f") == []
    assert [e.where for e in validate_checks([{"op": op}], "f")] == ["f.checks[0].min"]
    r = evaluate({"op": op, "min": 2, "name": "wc"}, TrialEvidence(final_answer="three words here"))
    assert (r.name, r.passed, r.reason) == ("wc", True, "3 words")


def test_user_check_that_cannot_be_imported_is_a_located_error() -> None:
    errors = validate_checks([{"op": "no_such_module_xyz:Thing"}], "f")
    assert errors[0].where == "f.checks[0].op" and "cannot be loaded" in errors[0].message


def test_a_check_that_raises_is_a_failed_check() -> None:
    r = evaluate({"op": f"{__name__}:Exploding"}, TrialEvidence())
    assert r.passed is False and "RuntimeError" in r.reason and "bug in user check" in r.reason


def test_weight_and_default_name_carried() -> None:
    r = evaluate({"op": "contains", "value": "hi", "weight": 2.5}, TrialEvidence(final_answer="hi"))
    assert (r.name, r.weight) == ("contains:hi", 2.5)
