"""Answer-rule checks, including the gbrain-evals fixtures' own judges read in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.checks import evaluate, validate_checks
from gate.checks.answer import count_citations, ndcg_at_k
from gate.models import ToolCall, TrialEvidence

STRUCTURED = """Lead answer: ship the free tier with a cap.

Recommendation: yes - ship it with a hard usage cap and self-serve onboarding.

## Key Risks
- Support cost can outgrow conversion revenue at this team size.
- Free users anchor pricing expectations for later plans.

## Next steps
Talk to five design partners.

Confidence: medium
"""


def ev(answer: str = STRUCTURED, **kw: Any) -> TrialEvidence:
    return TrialEvidence(final_answer=answer, **kw)


def run(spec: dict[str, Any], evidence: TrialEvidence | None = None) -> tuple[bool | None, float]:
    assert validate_checks([spec], "t") == [], validate_checks([spec], "t")
    r = evaluate(spec, evidence or ev())
    return r.passed, r.score


def test_contains_is_case_insensitive() -> None:
    assert run({"op": "contains", "value": "KEY risks"})[0] is True
    assert run({"op": "contains", "value": "kubernetes"})[0] is False


def test_not_contains() -> None:
    assert run({"op": "not_contains", "value": "as an ai"})[0] is True
    assert run({"op": "not_contains", "value": "SUPPORT COST"})[0] is False


def test_regex_defaults_to_multiline_like_gbrain() -> None:
    # ^ anchors at a line start, as the gbrain-evals patterns expect.
    assert run({"op": "regex", "pattern": r"^[Rr]ecommendation[ \t]*[:=][ \t]*.{10,}"})[0] is True
    assert run({"op": "regex", "pattern": r"^Confidence", "flags": ""})[0] is False
    assert run({"op": "regex", "pattern": r"^confidence: MEDIUM$", "flags": "im"})[0] is True


def test_regex_dotall_flag() -> None:
    assert run({"op": "regex", "pattern": r"Lead.*Confidence", "flags": "s"})[0] is True
    assert run({"op": "regex", "pattern": r"Lead.*Confidence"})[0] is False


def test_section_present_any_depth_and_case() -> None:
    assert run({"op": "section_present", "heading": "key risks"})[0] is True
    assert run({"op": "section_present", "heading": "## Key Risks"})[0] is True
    assert run({"op": "section_present", "heading": "Risks"})[0] is False
    # A bold line is not a heading.
    assert (
        run({"op": "section_present", "heading": "Key Risks"}, ev("**Key Risks**\n- x"))[0] is False
    )


def test_section_contains_looks_only_inside_the_section() -> None:
    assert run({"op": "section_contains", "heading": "Key Risks", "value": "pricing"})[0] is True
    # "design partners" is under "Next steps", not "Key Risks".
    spec = {"op": "section_contains", "heading": "Key Risks", "value": "design partners"}
    assert run(spec)[0] is False
    missing = evaluate({"op": "section_contains", "heading": "Nope", "value": "x"}, ev())
    assert missing.passed is False and "missing" in missing.reason


def test_max_and_min_chars_are_inclusive() -> None:
    n = len(STRUCTURED)
    assert run({"op": "max_chars", "value": n})[0] is True
    assert run({"op": "max_chars", "value": n - 1})[0] is False
    assert run({"op": "min_chars", "value": n})[0] is True
    assert run({"op": "min_chars", "value": n + 1})[0] is False


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot assist with this request.",
        "Sure.\n\nAs an AI, I do not have opinions.",
        "",
    ],
)
def test_no_refusal_catches_refusals_and_empty(answer: str) -> None:
    assert run({"op": "no_refusal"}, ev(answer))[0] is False


def test_no_refusal_passes_an_answer_mentioning_cannot() -> None:
    assert (
        run({"op": "no_refusal"}, ev("The team cannot ship before June; ship in July."))[0] is True
    )


def test_min_citations_default_pattern() -> None:
    text = "See [the page](topics/foo-bar) and topics/baz-qux, also [1] and [2]."
    # The link is one citation (not a link plus a slug): 1 + 1 + 2.
    assert count_citations(text) == 4
    assert run({"op": "min_citations", "value": 4}, ev(text))[0] is True
    assert run({"op": "min_citations", "value": 5}, ev(text))[0] is False
    assert run({"op": "min_citations", "value": 1}, ev("no sources at all"))[0] is False


def test_min_citations_custom_pattern() -> None:
    text = "per (Smith 2020) and (Lee 2021)"
    assert run({"op": "min_citations", "value": 2, "pattern": r"\(\w+ \d{4}\)"}, ev(text))[0]


def search_call(*slugs: str, is_error: bool = False) -> ToolCall:
    out = json.dumps({"results": [{"slug": s, "score": 1.0} for s in slugs]})
    return ToolCall(name="search", input={"query": "q"}, output=out, is_error=is_error)


def test_qrels_ndcg_and_pass_rule() -> None:
    want = "topics/if-a-startup-should-enter-a-regulated-market"
    spec = {"op": "qrels", "expected_slugs": [want], "k": 5}
    first = ev(tool_calls=(search_call(want, "topics/other-a"),))
    assert run(spec, first) == (True, 1.0)
    third = ev(tool_calls=(search_call("topics/x-a", "topics/x-b", want),))
    passed, score = run(spec, third)
    assert passed is True and score == pytest.approx(0.5)  # 1/log2(4)
    beyond_k = ev(tool_calls=(search_call(*[f"topics/n-{i}x" for i in range(5)], want),))
    assert run(spec, beyond_k) == (False, 0.0)
    assert run(spec, ev(tool_calls=()))[0] is False


def test_qrels_ignores_failed_calls_and_uses_answer_citations() -> None:
    want = "topics/whether-to-build-an-internal-tool-or-buy-saas"
    spec = {"op": "qrels", "expected_slugs": [want], "k": 5}
    assert run(spec, ev("no cite", tool_calls=(search_call(want, is_error=True),)))[0] is False
    assert run(spec, ev(f"Per {want}, buy."))[0] is True


def test_ndcg_partial_recall() -> None:
    assert ndcg_at_k(["a", "x"], {"a", "b"}, 2) == pytest.approx(1 / (1 + 1 / 1.5849625))


# --- the fixtures' own judges, mapped to the spec vocabulary the importer emits ------------

OP_ARG = {
    "contains": "value",
    "regex": "pattern",
    "section_present": "heading",
    "max_chars": "value",
    "min_chars": "value",
    "tool_called": "tool",
    "min_citations": "value",
}


def gbrain_specs(judge: dict[str, Any]) -> list[dict[str, Any]]:
    if judge["kind"] == "qrels":
        return [{"op": "qrels", "expected_slugs": judge["expected_slugs"], "k": judge["k"]}]
    return [{"op": c["op"], OP_ARG[c["op"]]: c["arg"]} for c in judge["checks"]]


def fixture_tasks(shared: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for f in sorted(shared.glob("gbrain-evals*/**/*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                out.append((str(f.relative_to(shared)), json.loads(line)))
    return out


def test_every_fixture_judge_validates(shared_fixtures: Path) -> None:
    tasks = fixture_tasks(shared_fixtures)
    assert len(tasks) > 60
    for where, task in tasks:
        assert validate_checks(gbrain_specs(task["judge"]), f"{where}:{task['task_id']}") == []


def test_fixture_judges_separate_the_deficient_seed_from_the_fixed_one(
    shared_fixtures: Path,
) -> None:
    """A structured, cited, searched answer passes every held-out judge; a plain one fails."""
    slug_dir = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first/brain"
    pages = [p.relative_to(slug_dir).with_suffix("").as_posix() for p in slug_dir.rglob("*.md")]
    good = ev(STRUCTURED + "\nSource: " + pages[0], tool_calls=(search_call(*pages),))
    plain = ev("Ship it if support cost stays low; otherwise wait. " * 3)
    scored = 0
    for where, task in fixture_tasks(shared_fixtures):
        specs = gbrain_specs(task["judge"])
        if "verbose" in where:
            continue  # length judges: covered by max/min tests; STRUCTURED is short anyway
        good_ok = [evaluate(s, good).passed for s in specs]
        if task["judge"]["kind"] == "qrels":
            # qrels wants the task's own page retrieved within k.
            own = ev(tool_calls=(search_call(*task["judge"]["expected_slugs"]),))
            good_ok = [evaluate(s, own).passed for s in specs]
        assert all(good_ok), (where, task["task_id"], specs)
        assert not all(evaluate(s, plain).passed for s in specs), (where, task["task_id"])
        scored += 1
    assert scored >= 40


def test_patelnav_stricter_verbose_judge(shared_fixtures: Path) -> None:
    f = shared_fixtures / "gbrain-evals-patelnav/skillopt-v1/seed-verbose/held-out.jsonl"
    specs = gbrain_specs(json.loads(f.read_text().splitlines()[0])["judge"])
    results = lambda text: [evaluate(s, ev(text)).passed for s in specs]
    assert results("x" * 500) == [True, True]
    assert results("x" * 100) == [True, False]  # too short for the [\s\S]{200,} floor
    assert results("x" * 1000) == [False, True]  # over max_chars 900
