"""Reports of a gate decision: report.md, report.json, report.html and junit.xml.

All four are rendered from the same :class:`GateDecision` and trial records, so they can
never disagree; report.json carries the policy too, so a verdict can be re-derived.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gate.models import GateDecision, TrialRecord
from gate.report.asciinema import find_assets
from gate.report.html import render_html
from gate.report.junit import render_junit
from gate.report.markdown import render_markdown
from gate.report.player import render_player, write_player

__all__ = [
    "ReportPaths",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_player",
    "write_player",
    "write_players",
    "write_reports",
]


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    json: Path
    html: Path
    junit: Path


def render_json(decision: GateDecision, trials: Sequence[TrialRecord]) -> str:
    """Stable key order and trial order, so the file diffs cleanly between runs."""
    ordered = sorted(trials, key=lambda t: (t.task_id, t.variant, t.attempt))
    doc = {
        "schema": "harness.gate.report.v1",
        "decision": decision.model_dump(mode="json"),
        "exit_code": decision.exit_code,
        "trials": [t.model_dump(mode="json") for t in ordered],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write_players(trials: Sequence[TrialRecord], run_dir: Path) -> list[Path]:
    """A player.html next to every trial's session.cast that exists and parses."""
    assets = find_assets()  # read once: the bundle is inlined into every page
    written = []
    for t in trials:
        a = t.artifacts
        if a.dir is None or not a.cast:
            continue
        cast = run_dir / a.dir / a.cast
        if cast.is_file():
            title = f"{t.task_id} / {t.variant} / {t.attempt}"
            page = write_player(cast, title=title, assets=assets)
            if page is not None:
                written.append(page)
    return written


def write_reports(
    decision: GateDecision,
    trials: Sequence[TrialRecord],
    out_dir: Path,
    *,
    run_dir: Path | None = None,
) -> ReportPaths:
    """Write all four reports into ``out_dir``; artifact links resolve against ``run_dir``,
    where each trial's recording also gets its player.html (before report.html links it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(
        out_dir / "report.md",
        out_dir / "report.json",
        out_dir / "report.html",
        out_dir / "junit.xml",
    )
    paths.markdown.write_text(render_markdown(decision, trials) + "\n", encoding="utf-8")
    paths.json.write_text(render_json(decision, trials), encoding="utf-8")
    if run_dir is not None:
        write_players(trials, run_dir)
    html = render_html(
        decision, trials, run_dir=run_dir.resolve() if run_dir else None, out_dir=out_dir.resolve()
    )
    paths.html.write_text(html, encoding="utf-8")
    paths.junit.write_text(render_junit(decision, trials), encoding="utf-8")
    return paths
