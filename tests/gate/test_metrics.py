"""Item 4 metrics and the skill-file structure check."""

from __future__ import annotations

from math import comb
from pathlib import Path

import pytest
from gate_helpers import trial
from hypothesis import given
from hypothesis import strategies as st

from gate.metrics import normalize_signature, pass_at_k, repeat_error_rate, variant_metrics
from gate.skillfiles import check_skill_files, split_frontmatter


def test_variant_metrics_on_a_constructed_set() -> None:
    trials = [
        trial("a", "v", attempt=0, passes=2, tokens=100, duration=10, steps_to_green=3),
        trial("a", "v", attempt=1, passes=1, fails=1, tokens=300, duration=20, steps_to_green=None),
        trial("b", "v", attempt=0, passes=0, fails=2, tokens=200, duration=30),
        trial("b", "v", attempt=1, status="infra_error", tokens=0, duration=0),
        trial("a", "other", passes=2),
    ]
    m = variant_metrics("v", trials)
    assert (m.trials, m.scorable, m.unscorable) == (4, 3, 1)
    assert m.pass_rate == pytest.approx(1 / 3)
    assert m.mean_mixed == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    # task a: n=2, c=1 -> pass@1 .5, pass@2 1; task b: n=1, c=0 -> pass@1 0
    assert m.pass_at_k == {"1": pytest.approx(0.25), "2": pytest.approx(1.0)}
    assert m.mean_steps_to_green == 3.0
    assert m.mean_tokens == pytest.approx(150) and m.mean_duration_sec == pytest.approx(15)
    assert m.repeat_error_rate is None


def test_repeat_error_rate_uses_normalized_signatures() -> None:
    t = trial(
        "a",
        "v",
        error_signatures=[
            "ModuleNotFoundError: No module named 'foo' at /tmp/x1/app.py:12",
            "ModuleNotFoundError: No module named 'foo' at /tmp/y2/app.py:40",
            "SyntaxError: invalid syntax (line 3)",
        ],
    )
    other = trial("b", "v", error_signatures=["SyntaxError: invalid syntax (line 9)"])
    # Within a trial only: 1 repeat out of 4 sightings.
    assert repeat_error_rate([t, other]) == pytest.approx(0.25)


def test_normalize_signature() -> None:
    assert normalize_signature("Error at /a/b.py:12 id 0xdeadbeef") == normalize_signature(
        "error at /c/d.py:7   id 0x1f"
    )


@given(
    st.integers(1, 20).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))
    )
)
def test_pass_at_k_estimator(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    p = pass_at_k(n, c, k)
    assert 0.0 <= p <= 1.0
    if c == 0:
        assert p == 0.0
    if k == 1:
        assert p == pytest.approx(c / n)
    if n - c >= k:
        assert p == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    if k < n:
        assert pass_at_k(n, c, k + 1) >= p - 1e-12


def test_pass_at_k_rejects_k_above_n() -> None:
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_fixture_seed_skills_are_structurally_sound(shared_fixtures: Path) -> None:
    for skill in sorted(shared_fixtures.glob("gbrain-evals/skillopt-v1/*/SKILL.md")):
        assert check_skill_files({"SKILL.md": skill.read_text()}) == [], skill


def test_frontmatter_problems() -> None:
    assert split_frontmatter("---\nname: x\n")[2] == "frontmatter is not closed with ---"
    assert "not valid YAML" in (split_frontmatter("---\nname: [x\n---\n")[2] or "")
    probs = check_skill_files({"a/SKILL.md": "---\nname: Bad Name\ndescription: d\n---\n"})
    assert probs == ["a/SKILL.md: name 'Bad Name' must be <= 64 chars of a-z, 0-9 and -"]
    long_desc = "---\nname: ok\ndescription: " + "d" * 2000 + "\n---\n"
    assert "description is 2000 chars" in check_skill_files({"SKILL.md": long_desc})[0]


def test_required_sections_from_policy_and_baseline() -> None:
    base = {"CLAUDE.md": "# Rules\n## Testing\nrun tests\n## Style\nx\n"}
    cand = {"CLAUDE.md": "# Rules\n## Testing\nrun tests always\n"}
    assert check_skill_files(cand, baseline=base) == [
        "CLAUDE.md: required section(s) removed: Style"
    ]
    assert check_skill_files(cand, baseline=base, keep_baseline_sections=False) == []
    assert check_skill_files(cand, required_sections=["Security"]) == [
        "CLAUDE.md: required section(s) removed: Security"
    ]
    assert check_skill_files({}) == ["candidate has no skill files"]
