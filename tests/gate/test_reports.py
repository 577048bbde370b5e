"""Reports: golden report.md / report.json, a parsed junit.xml, and report.html's contents.

Refresh the golden files with ``UPDATE_GOLDEN=1 pytest tests/gate/test_reports.py``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from gate_helpers import sample_trials

from gate.decision import decide
from gate.models import GateDecision
from gate.report import render_json, render_markdown, write_reports

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from golden (UPDATE_GOLDEN=1)"


@pytest.fixture
def decision() -> GateDecision:
    return decide(sample_trials())


def test_markdown_golden(decision: GateDecision) -> None:
    md = render_markdown(decision, sample_trials())
    assert "**Decision: ACCEPT** — adopt `candidate`" in md
    assert "| hd-001 | heldout |" in md and "docker engine went away" in md
    # per-task pass rates with Jeffreys intervals; the verdict's rule and p-value in the heading
    assert "| 2/3 | 0/1 | 0.00 [0.00, 0.67] | 1.00 [0.33, 1.00] |" in md
    assert "## Candidate `candidate`: accept (lift rule) — heldout lift +0.736" in md
    golden("report.md", md + "\n")


def test_json_golden_and_round_trip(decision: GateDecision) -> None:
    text = render_json(decision, sample_trials())
    doc = json.loads(text)
    assert doc["exit_code"] == 0 and doc["decision"]["decision"] == "accept"
    assert GateDecision.model_validate(doc["decision"]) == decision
    assert doc["decision"]["policy"]["seed"] == 0  # the policy travels with the verdict
    hd1 = next(r for r in doc["decision"]["candidates"][0]["tasks"] if r["task_id"] == "hd-001")
    assert hd1["candidate_pass_rate"] == 1.0 and hd1["candidate_pass_ci"][1] == 1.0
    assert doc["decision"]["candidates"][0]["rule"] == "lift"
    golden("report.json", text)


def test_json_is_independent_of_trial_order(decision: GateDecision) -> None:
    trials = sample_trials()
    assert render_json(decision, trials) == render_json(decision, list(reversed(trials)))


def test_write_reports_all_four(tmp_path: Path, decision: GateDecision) -> None:
    paths = write_reports(decision, sample_trials(), tmp_path / "report", run_dir=tmp_path)
    for p in (paths.markdown, paths.json, paths.html, paths.junit):
        assert p.is_file() and p.stat().st_size > 200


def test_junit_xml(tmp_path: Path, decision: GateDecision) -> None:
    paths = write_reports(decision, sample_trials(), tmp_path, run_dir=tmp_path)
    root = ET.parse(paths.junit).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"gate", "variant.baseline", "variant.candidate"}
    assert suites["gate"].get("failures") == "0"
    base = suites["variant.baseline"]
    # 12 heldout + frozen + train + a timeout; the timeout and half-passing ones fail.
    assert base.get("tests") == "15" and base.get("failures") == "14"
    cand = suites["variant.candidate"]
    assert cand.get("skipped") == "1" and cand.get("failures") == "1"  # infra error, train task
    skipped = [c for c in cand.iter("testcase") if c.find("skipped") is not None]
    assert skipped[0].get("name") == "hd-001#2"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if a.get("src"):
            self.srcs.append(a["src"] or "")


def test_html_is_self_contained_with_charts_and_artifact_links(
    tmp_path: Path, decision: GateDecision
) -> None:
    recorded = tmp_path / "trials/hd-001/candidate/0"
    recorded.mkdir(parents=True)
    for name in ("session.cast", "transcript.jsonl", "diff.patch"):  # no pane.txt recorded
        (recorded / name).write_text("x")
    paths = write_reports(decision, sample_trials(), tmp_path / "report", run_dir=tmp_path)
    html = paths.html.read_text()
    p = _Collect()
    p.feed(html)
    assert p.tags.count("svg") == 2  # score distribution + the candidate's per-task chart
    assert "Per-task matrix" in html
    assert "script" not in p.tags and "link" not in p.tags and not p.srcs  # nothing external
    assert sorted(p.hrefs) == [
        "../trials/hd-001/candidate/0/diff.patch",
        "../trials/hd-001/candidate/0/session.cast",
        "../trials/hd-001/candidate/0/transcript.jsonl",
    ]
    assert html.count('title="not recorded">pane</span>') == len(sample_trials())
    for href in p.hrefs:  # every link resolves from where the report sits
        assert (paths.html.parent / href).resolve().is_file()


def test_html_escapes_untrusted_text(tmp_path: Path) -> None:
    trials = [t.model_copy(update={"reason": "<script>alert(1)</script>"}) for t in sample_trials()]
    paths = write_reports(decide(trials), trials, tmp_path)
    assert "<script>" not in paths.html.read_text()
