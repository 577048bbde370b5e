"""gbrain-evals skillopt-v1 importer on the real seeds (newer, older and patelnav judges)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.errors import ConfigError, ValidationFailed
from harness.tasks import load_suite, render_tool_shims, tool_data
from harness.tasks.importers.gbrain import import_gbrain, skill_name

SEEDS = ("seed-missing-structure", "seed-no-brain-first", "seed-no-verdict", "seed-verbose")


def lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("seed", SEEDS)
def test_each_seed(tmp_path: Path, shared_fixtures: Path, seed: str) -> None:
    src = shared_fixtures / "gbrain-evals/skillopt-v1" / seed
    result = import_gbrain(src, tmp_path / "out")
    [suite] = result.suites
    train, held = lines(src / "benchmark.jsonl"), lines(src / "held-out.jsonl")
    assert suite.by_split("train").ids == [r["task_id"] for r in train]
    assert suite.by_split("heldout").ids == [r["task_id"] for r in held]
    for rec in train + held:
        task = suite.get(rec["task_id"])
        assert task.prompt_turns() == [rec["task"]]
        assert len(task.checks) == len(rec["judge"].get("checks", [None]))
    # SKILL.md is the baseline variant, byte for byte
    assert suite.variants == {"baseline": (tmp_path / "out/variants/baseline").resolve()}
    assert (suite.variants["baseline"] / "SKILL.md").read_bytes() == (src / "SKILL.md").read_bytes()
    assert skill_name(src / "SKILL.md") in result.notes[0]
    assert load_suite(tmp_path / "out").ids == suite.ids


def test_rule_ops_map_to_gate_vocabulary(tmp_path: Path, shared_fixtures: Path) -> None:
    root = shared_fixtures / "gbrain-evals/skillopt-v1"
    ms = import_gbrain(root / "seed-missing-structure", tmp_path / "a").suites[0]
    assert ms.get("bm-001").checks == [
        {"op": "section_present", "heading": "Key Risks"},
        {"op": "regex", "pattern": r"[Cc]onfidence\s*[:=]"}]
    vb = import_gbrain(root / "seed-verbose", tmp_path / "b").suites[0]
    assert vb.get("hd-001").checks == [{"op": "max_chars", "value": 1200}]
    nb = import_gbrain(root / "seed-no-brain-first", tmp_path / "c").suites[0]
    assert nb.get("bm-001").checks == [{"op": "tool_called", "tool": "search"}]
    assert nb.get("hd-003").checks == [{"op": "qrels", "k": 5, "expected_slugs": [
        "topics/whether-to-deprecate-a-legacy-api-with-active-users"]}]


def test_brain_pages_become_a_search_tool_that_finds_the_qrels(
        tmp_path: Path, shared_fixtures: Path) -> None:
    """Every held-out question, searched verbatim, ranks its expected page within k."""
    src = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first"
    suite = import_gbrain(src, tmp_path / "out").suites[0]
    assert sorted(p.name for p in (tmp_path / "out/data/brain/topics").iterdir()) == sorted(
        p.name for p in (src / "brain/topics").iterdir())
    held = suite.by_split("heldout")
    assert len(held) == 6
    for task in held:
        [tool] = task.tools
        assert tool.name == "search" and tool.search is not None
        box = tmp_path / "box" / task.id
        (box / "bin").mkdir(parents=True)
        (box / "bin/search").write_text(render_tool_shims(task)["search"])
        for rel, f in tool_data(task).items():
            (box / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, box / "data" / rel)
        env = {**os.environ, "HARNESS_TOOL_DATA": str(box / "data"),
               "HARNESS_TOOLS_LOG": str(box / "tools.log")}
        out = subprocess.run(["sh", str(box / "bin/search"), task.prompt_turns()[0]],
                             capture_output=True, text=True, env=env, check=True).stdout
        [qrels] = task.checks
        slugs = re.findall(r"^\[([^\]]+)\]", out, re.MULTILINE)
        assert len(slugs) <= qrels["k"]
        assert set(qrels["expected_slugs"]) <= set(slugs), (task.id, out)


def test_older_held_out_is_rule_judged(tmp_path: Path, shared_fixtures: Path) -> None:
    src = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first"
    older = shared_fixtures / "gbrain-evals/skillopt-v1-older/seed-no-brain-first/held-out.jsonl"
    suite = import_gbrain(src, tmp_path / "out", held_out=older).suites[0]
    for task in suite.by_split("heldout"):
        assert task.checks == [{"op": "tool_called", "tool": "search"}]


@pytest.mark.parametrize("seed", SEEDS)
def test_patelnav_stricter_judges(tmp_path: Path, shared_fixtures: Path, seed: str) -> None:
    src = shared_fixtures / "gbrain-evals/skillopt-v1" / seed
    strict = shared_fixtures / "gbrain-evals-patelnav/skillopt-v1" / seed / "held-out.jsonl"
    suite = import_gbrain(src, tmp_path / "out", held_out=strict).suites[0]
    held = suite.by_split("heldout")
    assert held.ids == [r["task_id"] for r in lines(strict)]
    for task, rec in zip(held, lines(strict), strict=True):
        assert [c["op"] for c in task.checks] == [c["op"] for c in rec["judge"]["checks"]]


def test_patelnav_regexes_work_line_by_line(tmp_path: Path, shared_fixtures: Path) -> None:
    """Anchored patterns get the m flag, so a heading mid-answer satisfies them."""
    src = shared_fixtures / "gbrain-evals/skillopt-v1/seed-missing-structure"
    strict = shared_fixtures / "gbrain-evals-patelnav/skillopt-v1/seed-missing-structure"
    task = import_gbrain(src, tmp_path / "out", held_out=strict / "held-out.jsonl"
                         ).suites[0].get("hd-001")
    heading, confidence = task.checks
    assert heading["flags"] == "m" and "flags" not in confidence
    good = "Intro.\n\n## Key Risks\n- Cofounder conflict may stall the company.\n\nConfidence: High\n"
    bad = "Intro.\n\nKey Risks are many.\nConfidence: sort of\n"
    for check, text, want in [(heading, good, True), (heading, bad, False),
                              (confidence, good, True), (confidence, bad, False)]:
        flags = re.MULTILINE if "m" in check.get("flags", "") else 0
        assert bool(re.search(check["pattern"], text, flags)) is want


def test_patelnav_min_citations_counts_page_slugs(tmp_path: Path, shared_fixtures: Path) -> None:
    src = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first"
    strict = shared_fixtures / "gbrain-evals-patelnav/skillopt-v1/seed-no-brain-first"
    task = import_gbrain(src, tmp_path / "out", held_out=strict / "held-out.jsonl"
                         ).suites[0].get("hd-001")
    called, cites = task.checks
    assert called == {"op": "tool_called", "tool": "search"}
    assert cites["op"] == "min_citations" and cites["value"] == 1
    answer = "Per [topics/whether-a-solo-founder-should-take-on-a-technical-cofounder], wait."
    assert len(re.findall(cites["pattern"], answer)) == 1


def test_folder_of_seeds(tmp_path: Path, shared_fixtures: Path) -> None:
    result = import_gbrain(shared_fixtures / "gbrain-evals/skillopt-v1", tmp_path / "out")
    assert [s.root.name for s in result.suites] == list(SEEDS)
    assert result.task_count == 4 * 21
    with pytest.raises(ConfigError, match="one seed"):
        import_gbrain(shared_fixtures / "gbrain-evals/skillopt-v1", tmp_path / "o2",
                      held_out=Path("x"))


def test_tool_called_without_pages_gets_a_canned_shim(tmp_path: Path,
                                                      shared_fixtures: Path) -> None:
    seed = tmp_path / "seed-x"
    seed.mkdir()
    shutil.copy(shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first/benchmark.jsonl",
                seed / "benchmark.jsonl")
    result = import_gbrain(seed, tmp_path / "out")
    task = result.suites[0].get("bm-001")
    assert [(t.name, t.output) for t in task.tools] == [("search", "No results.\n")]
    assert result.suites[0].variants == {} and "no SKILL.md" in result.notes[0]


def test_bad_lines_all_reported(tmp_path: Path) -> None:
    seed = tmp_path / "seed-bad"
    seed.mkdir()
    (seed / "benchmark.jsonl").write_text(
        '{"task_id":"a","task":"t","judge":{"kind":"rule","checks":[{"op":"warp","arg":1}]}}\n'
        "{not json\n"
        '{"task_id":"c","task":"t","judge":{"kind":"rule","checks":[{"op":"max_chars","arg":"x"}]}}\n')
    with pytest.raises(ValidationFailed) as info:
        import_gbrain(seed, tmp_path / "out")
    assert sorted(e.where for e in info.value.errors) == [
        f"{seed}/benchmark.jsonl:{n}" for n in (1, 2, 3)]
    (seed / "benchmark.jsonl").write_text(
        '{"task_id":"a","task":"t","judge":{"kind":"rule","checks":[{"op":"warp","arg":1}]}}\n'
        '{"task_id":"c","task":"t","judge":{"kind":"rule","checks":[{"op":"max_chars","arg":"x"}]}}\n'
        '{"task_id":"d","task":"t","judge":{"kind":"vibes"}}\n')
    with pytest.raises(ValidationFailed) as info:
        import_gbrain(seed, tmp_path / "out")
    assert [e.where.rsplit(":", 1)[1] for e in info.value.errors] == ["1", "2", "3"]
    assert "unknown judge kind 'vibes'" in info.value.errors[2].message


def test_llm_judge_becomes_rubric(tmp_path: Path) -> None:
    seed = tmp_path / "seed-llm"
    seed.mkdir()
    (seed / "benchmark.jsonl").write_text(json.dumps(
        {"task_id": "a", "task": "t", "judge": {"kind": "llm", "rubric": "Is it kind?"}}) + "\n")
    task = import_gbrain(seed, tmp_path / "out").suites[0].get("a")
    assert task.checks == [{"op": "rubric", "rubric": "Is it kind?"}]
