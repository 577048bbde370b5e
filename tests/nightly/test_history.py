"""history.html: the figures (known answers), and the page read back by an HTML parser."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gate.audit import AuditEntry, AuditFile
from harness.cli.nightly_admin_cmd import app
from harness.nightly.audit import record
from harness.nightly.history import changes, line_chart, repeat_error_rates, variant_series
from harness.nightly.records import CandidateOutcome, NightRecord, NightStore

DAY = 86400.0


def rec(i: int, sigs: list[str], **kw: object) -> NightRecord:
    project = str(kw.pop("project", "shop"))
    return NightRecord(night_id=f"n{i}" if project == "shop" else f"{project}-n{i}",
                       project=project,
                       started_at=DAY * (i + 1), ended_at=DAY * (i + 1) + 3600, status="done",
                       error_signatures=sigs, **kw)  # type: ignore[arg-type]


def test_repeat_error_rate_across_three_nights() -> None:
    nights = [rec(0, ["E1", "E2"]), rec(1, ["E2", "E3", "E4", "E4"]), rec(2, ["E1", "E3", "E5"])]
    # night 1: nothing earlier; night 2: E2 of {E2,E3,E4} seen; night 3: E1 and E3 of 3 seen
    assert repeat_error_rates(nights) == [None, pytest.approx(1 / 3), pytest.approx(2 / 3)]


def test_repeat_error_rate_skips_nights_without_errors_but_remembers_across_them() -> None:
    nights = [rec(0, []), rec(1, ["A"]), rec(2, []), rec(3, ["A", "B"]), rec(4, ["A", "B"])]
    assert repeat_error_rates(nights) == [None, 0.0, None, 0.5, 1.0]
    assert repeat_error_rates([]) == []


def test_variant_series_puts_baseline_first_and_leaves_gaps() -> None:
    nights = [rec(0, [], scores={"cand-1": 0.5, "baseline": 0.25}),
              rec(1, [], scores={"baseline": 0.5}),
              rec(2, [], scores={"adopted": 0.75, "baseline": 0.5, "cand-1": 1.0})]
    assert variant_series(nights, lambda n: n.scores) == {
        "baseline": [0.25, 0.5, 0.5], "cand-1": [0.5, None, 1.0], "adopted": [None, None, 0.75]}


def entry(action: str, t: float, night_id: str | None, reason: str) -> AuditEntry:
    return AuditEntry(time=datetime.fromtimestamp(t, UTC), action=action,  # type: ignore[arg-type]
                      stage_dir="/runs/r1/stage", live_root="/skills/brief",
                      audit_file="/skills/.harness-audit.jsonl", run_id="r1",
                      candidate="cand-1", files=[AuditFile(path="SKILL.md", before="a", after="b")],
                      reason=reason, night_id=night_id, user="ci")


def test_changes_merge_the_audit_table_with_nights_that_predate_it() -> None:
    nights = [rec(0, [], adopted="/runs/r0/stage",
                  candidates=[CandidateOutcome(name="c0", source="proposer", path="/runs/r0/stage",
                                               edits=[{"rationale": "say the verdict first"}])]),
              rec(1, [], adopted="/runs/r1/stage"),
              rec(2, [], rolled_back="/runs/r1/stage")]
    audit = [entry("adopt", DAY * 2 + 3600, "n1", "gate accepted"),
             entry("rollback", DAY * 3 + 3600, "n2", "watch: worse by 0.3")]
    got = [(c.action, c.night_id, c.detail) for c in changes(nights, audit)]
    assert got == [("adopted", "n0", "say the verdict first"),
                   ("adopted", "n1", "gate accepted; files: SKILL.md by ci"),
                   ("rolled back", "n2", "watch: worse by 0.3; files: SKILL.md by ci")]


class Page(HTMLParser):
    """What the checks need from the page: tags, attributes, visible text, SVG titles."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def test_a_chart_is_inline_svg_with_a_gap_for_a_missing_night() -> None:
    svg = line_chart("score", ["a", "b", "c"], {"x": [0.5, None, 1.0]}, percent=True)
    p = Page()
    p.feed(svg)
    assert p.tags.count("circle") == 2 and "polyline" not in p.tags  # no line across the gap
    assert "x · a: 50%" in p.text and "x · c: 100%" in p.text


def fill(db: Path) -> None:
    with NightStore(db) as store:
        store.save(rec(0, ["E1", "E2"], scores={"baseline": 0.5, "cand-1": 0.75},
                       pass_rates={"baseline": 0.5, "cand-1": 0.8},
                       steps_to_green={"baseline": 6.0, "cand-1": 4.0},
                       tokens_per_trial={"baseline": 12000.0, "cand-1": 9000.0},
                       verdict="accept", decision="accept: +0.25 [+0.10, +0.40] (Holm)",
                       adopted="/runs/r1/stage", harvested=12, mined=5, replayed=20,
                       tokens=420000, wall_s=1800.0))
        store.save(rec(1, ["E2", "E3"], scores={"baseline": 0.75, "adopted": 0.5},
                       verdict="rolled_back", decision="watch: adopted worse by 0.25",
                       rolled_back="/runs/r1/stage"))
        store.save(rec(2, [], verdict="nothing_to_do", message="no sessions harvested"))
        store.save(rec(0, ["E9"], project="other", verdict="reject"))
    record(db, entry("adopt", DAY + 3600, "n0", "gate accepted"))


def test_report_writes_a_self_contained_page(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fill(runs / "harness.db")
    out = tmp_path / "out" / "history.html"
    r = CliRunner().invoke(app, ["report", "--project", "shop", "--out", str(out),
                                 "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"history: {out} (3 night(s))"
    html = out.read_text()
    p = Page()
    p.feed(html)
    # self-contained: no script, no stylesheet or image fetched, no address anywhere
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert not [v for k, v in p.attrs if k in ("src", "href")]
    assert "http" not in html and "url(" not in html and "@import" not in html
    assert p.tags.count("svg") == 5
    text = " ".join(p.text)
    for title in ("held-out score per variant", "pass rate per variant", "steps to green",
                  "tokens per trial", "repeat-error rate"):
        assert title in text
    assert "baseline · 01-02: 50%" in p.text and "cand-1 · 01-02: 75%" in p.text
    assert "repeat errors · 01-03: 50%" in p.text  # E2 of {E2, E3} was seen on night 1
    assert "tokens per trial" in text and "cand-1 · 01-02: 9,000" in p.text
    for verdict in ("accept", "rolled_back", "nothing_to_do"):
        assert verdict in p.text
    assert "no sessions harvested" in p.text
    assert "other" not in p.text  # --project shows one project
    assert "adopted" in p.text and "rolled back" in p.text
    assert any("gate accepted; files: SKILL.md by ci" in t for t in p.text)
    assert any("watch: adopted worse by 0.25" in t for t in p.text)


def test_report_of_all_projects_and_of_an_unknown_one(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    fill(runs / "harness.db")
    r = CliRunner().invoke(app, ["report", "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    p = Page()
    p.feed((runs / "history.html").read_text())
    assert "other: 1 night(s)" in p.text and "shop: 3 night(s)" in p.text
    with NightStore(runs / "harness.db") as store:  # the night records a project by its path
        store.save(rec(7, [], project="/srv/repos/tools"))
    r = CliRunner().invoke(app, ["report", "--project", "tools", "--runs-dir", str(runs),
                                 "--out", str(tmp_path / "tools.html")])
    assert r.exit_code == 0 and "(1 night(s))" in r.output, r.output
    r = CliRunner().invoke(app, ["report", "--project", "nope", "--runs-dir", str(runs)])
    assert r.exit_code == 2
    assert r.output.strip() == (f"error: no nights of project 'nope' in {runs} "
                                "(known: /srv/repos/tools, other, shop)")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["report", "--out", "empty.html", "--runs-dir", "nothing"])
    assert r.exit_code == 0 and "(0 night(s))" in r.output
    assert "No nights recorded yet" in (tmp_path / "empty.html").read_text()
    assert not (tmp_path / "nothing").exists()


@pytest.mark.slow
def test_the_page_draws_in_headless_chromium(tmp_path: Path) -> None:
    """Every chart has a size and its points on the page, with the network cut off
    (``chromium_cdp.FLAGS``): nothing the page shows depends on a fetch."""
    import os
    import shutil

    from tests.conftest import need
    from tests.gate.chromium_cdp import Browser

    chromium = shutil.which("chromium")
    need(chromium is not None, "chromium is not installed (apt-get install chromium)")
    assert chromium is not None
    runs = tmp_path / "runs"
    fill(runs / "harness.db")
    out = tmp_path / "history.html"
    assert CliRunner().invoke(app, ["report", "--out", str(out), "--runs-dir",
                                    str(runs)]).exit_code == 0
    with Browser(chromium, tmp_path) as b:
        b.open(out.as_uri(), width=1150, height=1900)
        b.wait_until("document.readyState === 'complete'")
        sizes = b.evaluate("JSON.stringify([...document.querySelectorAll('svg')].map("
                           "s => [Math.round(s.getBoundingClientRect().width),"
                           " s.querySelectorAll('circle').length]))")
        failed = b.evaluate("performance.getEntriesByType('resource').length")
        b.screenshot(tmp_path / "history.png")
        if os.environ.get("HARNESS_KEEP_SHOT"):
            shutil.copy(tmp_path / "history.png", os.environ["HARNESS_KEEP_SHOT"])
    import json

    charts = json.loads(sizes)
    assert len(charts) == 10 and all(w == 520 for w, _ in charts)  # 5 per project, 2 projects
    # shop: 2 + 2 scores, 1 + 1 pass rates ... the held-out chart of shop has 4 points
    assert charts[5][1] == 4 and sum(n for _, n in charts) > 10
    assert failed == 0
    assert (tmp_path / "history.png").stat().st_size > 10_000
