"""SkillOpt-Sleep importer on the real fixture files (read in place) and on envelopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, ValidationFailed
from harness.tasks import load_suite
from harness.tasks.importers import ensure_reviewed
from harness.tasks.importers.skillopt_sleep import import_skillopt_sleep


def test_real_files_import_with_split_mapping(tmp_path: Path, shared_fixtures: Path) -> None:
    src = shared_fixtures / "skillopt-sleep"
    records = {r["id"]: r for f in sorted(src.glob("*.json")) for r in json.loads(f.read_text())}
    result = import_skillopt_sleep(src, tmp_path / "out")
    [suite] = result.suites
    assert len(suite) == len(records) == 14
    assert suite.name == "skillopt-sleep-skillopt-sleep"
    for task in suite.tasks:
        rec = records[task.id]
        want = {"train": "train", "val": "heldout", "test": "frozen"}[rec["split"]]
        assert task.split == want
        assert task.prompt_turns() == [rec["intent"]]  # no context_excerpt in these files
        [check] = task.checks
        assert check["op"] == "rubric"
        assert check["rubric"].startswith(rec["rubric"])
        assert rec["reference"] in check["rubric"]
        assert task.meta["reviewed"] is None and task.meta["source_split"] == rec["split"]
    assert suite.split_counts() == {"train": 7, "heldout": 7, "frozen": 0}
    assert all("bare list" in n for n in result.notes)
    # what was written loads again on its own
    assert load_suite(tmp_path / "out").ids == suite.ids
    ensure_reviewed(suite)  # bare lists carry no "reviewed": false


def _envelope(tmp_path: Path, shared_fixtures: Path, reviewed: bool) -> Path:
    records = json.loads((shared_fixtures / "skillopt-sleep/devops-tasks.json").read_text())
    p = tmp_path / f"tasks-{reviewed}.json"
    p.write_text(json.dumps({"format": "skillopt_sleep.tasks.v1", "reviewed": reviewed,
                             "tasks": records}))
    return p


def test_unreviewed_envelope_is_marked_and_refused(tmp_path: Path,
                                                   shared_fixtures: Path) -> None:
    src = _envelope(tmp_path, shared_fixtures, reviewed=False)
    result = import_skillopt_sleep(src, tmp_path / "out")
    [suite] = result.suites
    assert all(t.meta["reviewed"] is False and "unreviewed" in t.tags for t in suite.tasks)
    with pytest.raises(ConfigError) as info:
        ensure_reviewed(suite)
    assert "\n" not in info.value.one_line() and "reviewed" in info.value.one_line()
    with pytest.raises(ConfigError, match="marked \"reviewed\": false") as info2:
        import_skillopt_sleep(src, tmp_path / "out2", require_reviewed=True)
    assert "\n" not in info2.value.one_line()
    assert not (tmp_path / "out2").exists()  # refused before writing anything


def test_reviewed_envelope_passes(tmp_path: Path, shared_fixtures: Path) -> None:
    src = _envelope(tmp_path, shared_fixtures, reviewed=True)
    [suite] = import_skillopt_sleep(src, tmp_path / "out", require_reviewed=True).suites
    ensure_reviewed(suite)
    assert len(suite) == 5


def test_reference_kinds_map_to_checks(tmp_path: Path) -> None:
    recs = [
        {"id": "e", "intent": "say the code", "reference_kind": "exact", "reference": "X-42",
         "split": "test", "context_excerpt": "earlier: the code is X-42"},
        {"id": "r", "intent": "write", "reference_kind": "rule", "split": "replay",
         "judge": {"checks": [{"op": "section_present", "arg": "Summary"},
                              {"op": "max_chars", "arg": "300"}]}},
        {"id": "n", "intent": "anything", "reference_kind": "none", "split": "holdout"},
    ]
    src = tmp_path / "t.json"
    src.write_text(json.dumps(recs))
    suite = import_skillopt_sleep(src, tmp_path / "out").suites[0]
    e, r, n = (suite.get(i) for i in "ern")
    assert e.checks == [{"op": "contains", "value": "X-42", "name": "exact reference"}]
    assert e.split == "frozen"
    assert e.prompt_turns() == ["say the code\n\nContext:\nearlier: the code is X-42"]
    assert r.checks == [{"op": "section_present", "heading": "Summary"},
                        {"op": "max_chars", "value": 300}]
    assert r.split == "train" and n.split == "heldout"
    assert n.checks == [{"op": "no_refusal"}]


def test_bad_records_all_reported(tmp_path: Path) -> None:
    src = tmp_path / "t.json"
    src.write_text(json.dumps([
        {"id": "a", "intent": "x", "split": "dev"},
        {"intent": "no id"},
        {"id": "c", "intent": "x", "reference_kind": "rule", "judge": {}},
        {"id": "d", "intent": "x", "reference_kind": "rule",
         "judge": {"checks": [{"op": "teleport", "arg": 1}]}},
    ]))
    with pytest.raises(ValidationFailed) as info:
        import_skillopt_sleep(src, tmp_path / "out")
    msgs = [str(e) for e in info.value.errors]
    assert len(msgs) == 4
    assert "tasks[0]: unknown split 'dev'" in msgs[0] and "missing 'id'" in msgs[1]
    assert "without judge checks" in msgs[2] and "unknown rule op 'teleport'" in msgs[3]


def test_not_a_task_file(tmp_path: Path) -> None:
    src = tmp_path / "t.json"
    src.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConfigError, match="not a skillopt_sleep.tasks.v1 file"):
        import_skillopt_sleep(src, tmp_path / "out")


def test_refuses_non_empty_dest(tmp_path: Path, shared_fixtures: Path) -> None:
    src = shared_fixtures / "skillopt-sleep/wiki-tasks.json"
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        import_skillopt_sleep(src, tmp_path / "out")
    assert len(import_skillopt_sleep(src, tmp_path / "out", force=True).suites[0]) == 4
    assert not (tmp_path / "out/keep.txt").exists()
