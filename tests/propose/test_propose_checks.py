"""Validation of proposed files, the evidence pack, the prompt, and the rejected-edits memory."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.propose.edits import Edit, apply_edits
from harness.propose.evidence import build_evidence
from harness.propose.memory import rejected_examples, remember_rejected
from harness.propose.prompt import MARKER, build_prompt
from harness.propose.validate import proposal_problems, resolve_files

SKILL = "---\nname: fix-bugs\ndescription: Fix bugs.\n---\n\n# Fixing\n\n## Steps\n\n1. Fix.\n\n### Sub\n\nx\n"
FILES = [".claude/skills/fix/SKILL.md", "CLAUDE.md"]


def E(**kw: object) -> Edit:
    kw.setdefault("file", FILES[0])
    kw.setdefault("rationale", "because")
    return Edit.model_validate(kw)


def problems(*edits: Edit, max_bytes: int = 20000, text: str = SKILL) -> list[str]:
    before = {FILES[0]: text}
    after, probs = apply_edits(before, list(edits))
    assert probs == []
    return proposal_problems(before, after, list(edits), max_bytes=max_bytes)


# ---------------------------------------------------------------- validation


def test_a_sound_edit_has_no_problem() -> None:
    assert problems(E(op="replace", section="## Steps", content="## Steps\n\n1. Test.\n\n### Sub\n\ny")) == []


@pytest.mark.parametrize(("content", "why"), [
    ("name: [unclosed\ndescription: x", "front matter is not YAML at line 3: expected ',' or ']'"),
    ("- a list", "front matter is not a mapping of keys"),
    ("name: fix-bugs", "front matter lost its description"),
    ("name: ''\ndescription: d", "front matter lost its name"),
    (f"name: fix-bugs\ndescription: {'x' * 1025}", "front matter description is 1025 characters, over 1024"),
])
def test_a_broken_front_matter_is_named(content: str, why: str) -> None:
    [p] = problems(E(op="replace", section="front matter", content=content))
    assert p.startswith(f"{FILES[0]}: {why}")


def test_a_skill_without_front_matter_is_refused() -> None:
    [p] = problems(E(op="replace", section="## Steps", content="## Steps\n\n1. Test.\n\n### Sub\n\ny"),
                   text=SKILL.split("---\n", 2)[2])
    assert p == f"{FILES[0]}: no YAML front matter (a SKILL.md opens with ---, name:, description:, ---)"


def test_headings_not_deleted_must_stay() -> None:
    # a replace that renames its heading, and one that drops a sub-heading
    assert problems(E(op="replace", section="## Steps", content="## How\n\n1. Test.\n\n### Sub\n")) == [
        f"{FILES[0]}: heading '## Steps' was dropped (only a delete edit removes a section)"]
    assert problems(E(op="replace", section="## Steps", content="## Steps\n\n1. Test.")) == [
        f"{FILES[0]}: heading '### Sub' was dropped (only a delete edit removes a section)"]
    assert problems(E(op="delete", section="## Steps")) == []  # its sub-heading goes with it


def test_a_file_over_the_size_limit_is_refused() -> None:
    [p] = problems(E(op="add", section="## More", content="## More\n\n" + "y" * 500), max_bytes=300)
    assert p == f"{FILES[0]}: {len(SKILL) + 511:,} bytes, over the 300-byte limit"


def test_every_problem_is_reported_at_once() -> None:
    ps = problems(E(op="replace", section="front matter", content="name: x"),
                  E(op="replace", section="## Steps", content="## Steps\n\nz" * 40),
                  max_bytes=100)
    assert len(ps) == 3 and all(p.startswith(FILES[0]) for p in ps)


@pytest.mark.parametrize(("file", "why"), [
    ("../../etc/passwd", "escapes the project (..)"),
    ("/etc/passwd", "is absolute"),
    ("~/.bashrc", "is absolute"),
    (".claude\\skills\\fix\\SKILL.md", "has a backslash or NUL"),
    ("README.md", "is not a target file (targets: .claude/skills/fix/SKILL.md, CLAUDE.md)"),
    (".claude/skills/other/SKILL.md", "is not a target file (targets: .claude/skills/fix/SKILL.md, CLAUDE.md)"),
])
def test_edits_outside_the_targets_are_refused(file: str, why: str) -> None:
    kept, probs = resolve_files([E(file=file, op="delete", section="## Steps")], FILES)
    assert kept == [] and probs == [f"edits.0: file {file!r} {why}"]


def test_a_file_is_named_by_its_path_or_an_unambiguous_tail() -> None:
    kept, probs = resolve_files([E(file="SKILL.md", op="delete", section="## S"),
                                 E(file="./CLAUDE.md", op="delete", section="## S")], FILES)
    assert probs == [] and [e.file for e in kept] == FILES
    _, probs = resolve_files([E(file="SKILL.md", op="delete", section="## S")],
                             [*FILES, ".claude/skills/b/SKILL.md"])
    assert probs == ["edits.0: file 'SKILL.md' is ambiguous: .claude/skills/b/SKILL.md, "
                     ".claude/skills/fix/SKILL.md"]


# ---------------------------------------------------------------- evidence


def write_run(root: Path, trials: list[dict[str, object]], *, diff: str = "", answer: str = "Done.") -> Path:
    """A run folder as `harness run` leaves it: trials.jsonl and each trial's artifacts."""
    run = root / "20261130-000000-abcdef"
    recs = []
    for t in trials:
        d = run / str(t["task_id"]) / str(t["variant"]) / str(t.get("attempt", 0))
        d.mkdir(parents=True)
        (d / "episode.json").write_text(json.dumps({"agent": "claude", "turns": [
            {"index": 0, "user_text": f"please fix {t['task_id']}", "texts": [answer],
             "final_text": answer}]}))
        (d / "diff.patch").write_text(diff)
        recs.append({"run_id": run.name, "attempt": 0, "error_signatures": [], **t})
    (run / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (run / "run.json").write_text(json.dumps({"suite": str(root / "gone"), "agent": "claude"}))
    return run


FAIL = {"status": "failed", "reason": "r", "check_results": [
    {"name": "median tests pass", "op": "tests", "passed": False, "reason": "1 passed, 1 failed"},
    {"name": "tests untouched", "op": "diff_not_touches", "passed": True, "reason": "ok"}],
    "error_signatures": ["AssertionError: assert 3 == 2.5"]}


def test_evidence_shows_failed_trials_first_with_their_checks(tmp_path: Path) -> None:
    run = write_run(tmp_path, [
        {"task_id": "a-task", "variant": "baseline", "status": "passed", "check_results": []},
        {"task_id": "b-task", "variant": "baseline", **FAIL},
        {"task_id": "c-task", "variant": "baseline", "status": "infra_error", "reason": "engine"},
    ], diff="--- a/x.py\n+++ b/x.py\n@@\n-a\n+b\n")
    ev = build_evidence([run])
    assert "- run 20261130-000000-abcdef: baseline: 1/3 passed (1 infra errors, not shown)" in ev
    assert ev.index("### b-task · baseline · attempt 0: failed") < ev.index("### a-task")
    assert "c-task" not in ev
    assert "> please fix b-task" in ev and "> Done." in ev
    assert "- median tests pass: 1 passed, 1 failed" in ev and "tests untouched" not in ev
    assert "- AssertionError: assert 3 == 2.5" in ev and "+b\n```" in ev


def test_evidence_stays_within_its_bytes_and_says_what_it_left_out(tmp_path: Path) -> None:
    run = write_run(tmp_path, [{"task_id": f"t{i:02d}", "variant": "baseline", **FAIL}
                               for i in range(30)], diff="+" + "x" * 3000)
    ev = build_evidence([run], max_bytes=6000)
    assert len(ev.encode()) <= 6000
    shown = ev.count(": failed\n")
    assert 0 < shown < 30 and ev.rstrip().endswith(
        f"[... {30 - shown} more trial(s) left out to stay within 6,000 bytes]")
    assert "[... diff cut: 1,500 of 3,001 bytes shown]" in ev


def test_evidence_redacts_a_secret_an_artifact_carried(tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "A" * 40
    run = write_run(tmp_path, [{"task_id": "t", "variant": "baseline", **FAIL}],
                    diff=f"+ANTHROPIC_API_KEY={key}\n", answer=f"I used {key}")
    ev = build_evidence([run])
    assert key not in ev and "[REDACTED]" in ev


# ---------------------------------------------------------------- prompt and memory


def test_the_prompt_opens_with_the_marker_and_carries_the_rejected_edits(tmp_path: Path) -> None:
    db = tmp_path / "harness.db"
    remember_rejected(db, "proj", "night-1", [
        {"file": FILES[0], "op": "add", "section": "## Always", "content": "## Always\n\nBe fast.",
         "rationale": "speed"}], "reject: heldout lift -0.20")
    p = build_prompt({FILES[0]: SKILL}, "EVIDENCE-HERE", max_edits=2, max_bytes=5000,
                     rejected=rejected_examples(db, "proj"))
    assert p.splitlines()[0] == MARKER
    assert "Propose at most 2 edits" in p and "under 5000 bytes" in p
    assert f"### FILE {FILES[0]}\n<<<<<<<<\n{SKILL.rstrip()}\n>>>>>>>>" in p
    assert "EVIDENCE-HERE" in p and '"additionalProperties": false' in p
    assert (f"1. DO NOT PROPOSE AGAIN: add '## Always' in {FILES[0]} (night night-1)\n"
            "   gate's reason: reject: heldout lift -0.20\n   its rationale was: speed\n"
            "   its content was:\n   | ## Always\n   | \n   | Be fast.") in p
    assert "(none yet)" in build_prompt({FILES[0]: SKILL}, "", max_edits=1, max_bytes=1,
                                        rejected=[])


def test_rejected_edits_are_kept_per_project_newest_first_once_each(tmp_path: Path) -> None:
    db = tmp_path / "runs" / "harness.db"
    assert rejected_examples(db, "p") == [] and not db.exists()  # reading creates nothing
    e1 = {"file": "CLAUDE.md", "op": "delete", "section": "## A", "rationale": "r1"}
    e2 = {"file": "CLAUDE.md", "op": "delete", "section": "## B", "rationale": "r2"}
    remember_rejected(db, "p", "n1", [e1, e2], "first")
    remember_rejected(db, "p", "n2", [e1], "again")
    remember_rejected(db, "q", "n2", [e2], "other project")
    got = rejected_examples(db, "p")
    assert [(x["section"], x["night_id"], x["reason"]) for x in got] == [
        ("## A", "n2", "again"), ("## B", "n1", "first")]
    assert got[0] == {"file": "CLAUDE.md", "op": "delete", "section": "## A", "content": "",
                      "rationale": "r1", "reason": "again", "night_id": "n2"}
    assert len(rejected_examples(db, "p", limit=1)) == 1
    mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"  # opened through the runs store's connect()
