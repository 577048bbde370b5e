"""report.html: one self-contained file (inline CSS and SVG, no scripts, no network).

Self-contained so it can be attached to a CI run or mailed and still open; no script so it
renders the same in a locked-down viewer. Links to each trial's artifacts are relative to the
report, so the run directory can be moved or served as a whole; a trial's recording is linked
through its player.html (written next to session.cast by ``write_reports``), which does carry
a script, but in its own file.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from pathlib import Path

from gate.models import CandidateDecision, GateDecision, TrialRecord
from gate.report.markdown import candidate_headline, fmt, fmt_rate
from gate.report.player import PLAYER_NAME
from gate.scoring import score_trial

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.badge{display:inline-block;padding:4px 10px;border-radius:4px;color:#fff;font-weight:bold}
.accept{background:#2e7d32}.reject{background:#c62828}.inconclusive{background:#f9a825}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.regressed td{background:#ffebee}.muted{color:#888}
"""

PALETTE = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#558b2f"]


def _cell_color(score: float | None) -> str:
    if score is None:
        return "#eee"
    g = int(80 + 150 * score)
    r = int(230 - 150 * score)
    return f"rgb({r},{g},110)"


def _bar_chart(c: CandidateDecision, baseline: str) -> str:
    rows = [r for r in c.tasks if r.split != "train"]
    if not rows:
        return '<p class="muted">no heldout or frozen tasks</p>'
    bw, gap, h, top = 14, 12, 160, 10
    width = 50 + len(rows) * (2 * bw + gap)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 70}" '
            f'role="img" aria-label="per-task scores">'
        ),
        f'<line x1="40" y1="{top + h}" x2="{width}" y2="{top + h}" stroke="#999"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top + h - tick * h
        parts.append(f'<text x="4" y="{y + 4:.0f}" font-size="10">{tick:.1f}</text>')
    for i, r in enumerate(rows):
        x = 45 + i * (2 * bw + gap)
        for j, (score, color) in enumerate(
            ((r.baseline_score, PALETTE[0]), (r.candidate_score, PALETTE[1]))
        ):
            bh = (score or 0.0) * h
            parts.append(
                f'<rect x="{x + j * bw}" y="{top + h - bh:.1f}" width="{bw - 1}" '
                f'height="{bh:.1f}" fill="{color}"><title>{escape(r.task_id)}: '
                f"{fmt(score)}</title></rect>"
            )
        parts.append(
            f'<text x="{x}" y="{top + h + 12}" font-size="9" transform="rotate(40 '
            f'{x} {top + h + 12})">{escape(r.task_id)}</text>'
        )
    parts.append(
        f'<text x="45" y="{h + 66}" font-size="11" fill="{PALETTE[0]}">■ '
        f'{escape(baseline)}</text><text x="160" y="{h + 66}" font-size="11" '
        f'fill="{PALETTE[1]}">■ {escape(c.candidate)}</text></svg>'
    )
    return "".join(parts)


def _histogram(trials: Sequence[TrialRecord], variants: Sequence[str], w: float) -> str:
    bins = 10
    counts: dict[str, list[int]] = {v: [0] * bins for v in variants}
    for t in trials:
        s = score_trial(t, w)
        if s is not None and t.variant in counts:
            counts[t.variant][min(bins - 1, int(s.mixed * bins))] += 1
    peak = max((max(c) for c in counts.values()), default=0) or 1
    h, bw = 120, 40
    width = 40 + bins * bw
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 50}" '
            f'role="img" aria-label="score distribution">'
        )
    ]
    sub = bw / max(1, len(variants))
    for vi, v in enumerate(variants):
        for b, n in enumerate(counts[v]):
            bh = n / peak * h
            x = 30 + b * bw + vi * sub
            parts.append(
                f'<rect x="{x:.1f}" y="{10 + h - bh:.1f}" width="{sub - 1:.1f}" '
                f'height="{bh:.1f}" fill="{PALETTE[vi % len(PALETTE)]}">'
                f"<title>{escape(v)} {b / bins:.1f}-{(b + 1) / bins:.1f}: {n}</title></rect>"
            )
    for b in range(0, bins + 1, 2):
        parts.append(
            f'<text x="{30 + b * bw - 6}" y="{h + 24}" font-size="10">{b / bins:.1f}</text>'
        )
    for vi, v in enumerate(variants):
        parts.append(
            f'<text x="{30 + vi * 140}" y="{h + 44}" font-size="11" '
            f'fill="{PALETTE[vi % len(PALETTE)]}">■ {escape(v)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _matrix(trials: Sequence[TrialRecord], variants: Sequence[str], w: float) -> str:
    """Tasks by variants, each cell the mean mixed score over scorable attempts."""
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    splits: dict[str, str] = {}
    for t in trials:
        splits[t.task_id] = t.split
        s = score_trial(t, w)
        if s is not None:
            cells[(t.task_id, t.variant)].append(s.mixed)
    head = "".join(f"<th>{escape(v)}</th>" for v in variants)
    rows = [f"<table><tr><th>task</th><th>split</th>{head}</tr>"]
    for tid in sorted(splits):
        tds = []
        for v in variants:
            vals = cells.get((tid, v))
            mean = sum(vals) / len(vals) if vals else None
            tds.append(f'<td class=num style="background:{_cell_color(mean)}">{fmt(mean)}</td>')
        rows.append(f"<tr><td>{escape(tid)}</td><td>{splits[tid]}</td>{''.join(tds)}</tr>")
    return "".join(rows) + "</table>"


def _links(t: TrialRecord, run_dir: Path | None, out_dir: Path) -> str:
    a = t.artifacts
    if a.dir is None:
        return '<span class="muted">no artifacts</span>'
    base = (run_dir / a.dir) if run_dir is not None else Path(a.dir)
    out = []
    player = (base / a.cast).with_name(PLAYER_NAME) if a.cast else None
    for label, rel in (
        ("player", player.relative_to(base).as_posix() if player else None),
        ("cast", a.cast),
        ("transcript", a.transcript),
        ("diff", a.diff),
        ("pane", a.pane),
    ):
        if not rel:
            continue
        target = base / rel
        if label == "player" and not (base.is_absolute() and target.is_file()):
            continue  # written by write_reports only when the cast could be read
        if base.is_absolute() and not target.exists():
            # A dead link wastes the reader's time; say the artifact is missing instead.
            out.append(f'<span class="muted" title="not recorded">{label}</span>')
            continue
        href = os.path.relpath(target, out_dir) if base.is_absolute() else str(target)
        out.append(f'<a href="{escape(Path(href).as_posix())}">{label}</a>')
    return " · ".join(out)


def render_html(
    decision: GateDecision,
    trials: Sequence[TrialRecord],
    *,
    run_dir: Path | None = None,
    out_dir: Path = Path("."),
) -> str:
    d = decision
    w = float(d.policy.get("soft_weight", 0.5))
    variants = [m.variant for m in d.metrics] or sorted({t.variant for t in trials})
    body = [
        f"<h1>Gate report: {escape(d.run_id)}</h1>",
        f'<p><span class="badge {d.decision}">{d.decision.upper()}</span> '
        f"baseline <code>{escape(d.baseline)}</code>"
        + (f", adopt <code>{escape(d.chosen)}</code>" if d.chosen else "")
        + "</p>",
        "<h2>Reasons</h2><ul>" + "".join(f"<li>{escape(r)}</li>" for r in d.reasons) + "</ul>",
        (
            "<h2>Metrics</h2><table><tr><th>variant</th><th>trials</th><th>unscorable</th>"
            "<th>pass rate</th><th>mean mixed</th><th>pass@k</th><th>steps to green</th>"
            "<th>repeat-error rate</th><th>tokens/trial</th><th>sec/trial</th></tr>"
        ),
    ]
    for m in d.metrics:
        pak = ", ".join(
            f"@{k} {v:.2f}" for k, v in sorted(m.pass_at_k.items(), key=lambda x: int(x[0]))
        )
        body.append(
            f"<tr><td>{escape(m.variant)}</td><td class=num>{m.trials}</td>"
            f"<td class=num>{m.unscorable}</td><td class=num>{fmt(m.pass_rate)}</td>"
            f"<td class=num>{fmt(m.mean_mixed)}</td><td>{pak}</td>"
            f"<td class=num>{fmt(m.mean_steps_to_green, '.1f')}</td>"
            f"<td class=num>{fmt(m.repeat_error_rate)}</td>"
            f"<td class=num>{fmt(m.mean_tokens, '.0f')}</td>"
            f"<td class=num>{fmt(m.mean_duration_sec, '.1f')}</td></tr>"
        )
    body.append(
        "</table><h2>Per-task matrix (mean mixed score)</h2>" + _matrix(trials, variants, w)
    )
    body.append("<h2>Score distribution (mixed)</h2>" + _histogram(trials, variants, w))
    for c in d.candidates:
        body.append(
            f"<h2>Candidate {escape(c.candidate)}: "
            f'<span class="badge {c.decision}">{c.decision}</span></h2>'
            f"<p>{escape(candidate_headline(c, d.policy.get('n_boot')))}</p>"
        )
        body.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in c.reasons) + "</ul>")
        body.append(_bar_chart(c, d.baseline))
        body.append(
            "<table><tr><th>task</th><th>split</th><th>baseline</th><th>candidate</th>"
            "<th>delta</th><th>unscorable b/c</th><th>baseline pass rate [CI]</th>"
            "<th>candidate pass rate [CI]</th></tr>"
        )
        for r in c.tasks:
            cls = ' class="regressed"' if r.regressed else ""
            body.append(
                f"<tr{cls}><td>{escape(r.task_id)}</td><td>{r.split}</td>"
                f'<td class=num style="background:{_cell_color(r.baseline_score)}">'
                f"{fmt(r.baseline_score)}</td>"
                f'<td class=num style="background:{_cell_color(r.candidate_score)}">'
                f"{fmt(r.candidate_score)}</td><td class=num>{fmt(r.delta, '+.3f')}</td>"
                f"<td class=num>{r.baseline_unscorable}/{r.candidate_unscorable}</td>"
                f"<td class=num>{fmt_rate(r.baseline_pass_rate, r.baseline_pass_ci)}</td>"
                f"<td class=num>{fmt_rate(r.candidate_pass_rate, r.candidate_pass_ci)}</td></tr>"
            )
        body.append("</table>")
    body.append(
        "<h2>Trials</h2><table><tr><th>task</th><th>variant</th><th>#</th><th>status</th>"
        "<th>mixed</th><th>failed checks</th><th>artifacts</th></tr>"
    )
    by_key: dict[tuple[str, str], list[TrialRecord]] = defaultdict(list)
    for t in trials:
        by_key[(t.task_id, t.variant)].append(t)
    for key in sorted(by_key):
        for t in sorted(by_key[key], key=lambda t: t.attempt):
            s = score_trial(t, w)
            failed = "; ".join(f"{c.name}: {c.reason}" for c in t.check_results if not c.passed)
            body.append(
                f"<tr><td>{escape(t.task_id)}</td><td>{escape(t.variant)}</td>"
                f"<td class=num>{t.attempt}</td><td>{t.status}</td>"
                f"<td class=num>{fmt(s.mixed if s else None)}</td>"
                f"<td>{escape(failed or t.reason)}</td>"
                f"<td>{_links(t, run_dir, out_dir)}</td></tr>"
            )
    body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Gate report {escape(d.run_id)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
