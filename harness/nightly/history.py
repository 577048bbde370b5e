"""``history.html``: how a project's nights went, across nights, on one self-contained page.

Why these figures: the held-out score per variant and the pass rate say whether the skill
got better; steps to green and tokens per trial say what it costs the agent to get there;
the repeat-error rate (Sleepy Coder's question: does the agent stop repeating its mistakes?)
is the share of a night's error signatures that earlier nights of the project already saw.
The verdicts and the adopted / rolled-back edits (night records plus the audit table) say
what the loop did about it.

Why inline SVG and no script: the page is opened from CI artifacts and mail attachments,
often offline; it must show everything without fetching a byte.

The figures are pure functions of the night records (tests give known answers); the page is
built from them by :func:`render`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gate.audit import AuditEntry
from harness.nightly.audit import entries as audit_entries
from harness.nightly.records import NightRecord, NightStore

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
           "#e377c2", "#7f7f7f", "#bcbd22")
Series = dict[str, list[float | None]]


# ------------------------------------------------------------------------------ figures


def repeat_error_rates(nights: Sequence[NightRecord]) -> list[float | None]:
    """Per night (oldest first): the share of its distinct error signatures already seen on an
    earlier night. None on the first night (nothing to repeat) and on a night with no errors."""
    seen: set[str] = set()
    out: list[float | None] = []
    for i, n in enumerate(nights):
        sigs = set(n.error_signatures)
        out.append(None if i == 0 or not sigs else len(sigs & seen) / len(sigs))
        seen |= sigs
    return out


def variant_series(nights: Sequence[NightRecord],
                   pick: Callable[[NightRecord], dict[str, float]]) -> Series:
    """One line per variant (``baseline`` first, then in order of first appearance); a night
    without that variant is a gap (None)."""
    names: list[str] = []
    for n in nights:
        names += [v for v in pick(n) if v not in names]
    names.sort(key=lambda v: v != "baseline")
    return {v: [pick(n).get(v) for n in nights] for v in names}


@dataclass(frozen=True)
class Change:
    """One adopted or rolled-back edit, as the history lists it."""

    when: float                 # unix seconds
    action: str                 # adopted | rolled back | staged
    what: str                   # the candidate (and its stage folder)
    night_id: str | None
    detail: str                 # reason, files, edits' rationales


def changes(nights: Sequence[NightRecord], audit: Sequence[AuditEntry]) -> list[Change]:
    """Adopts and rollbacks, oldest first: each audit entry, and each night's adopt/rollback
    that the audit table does not hold (a night recorded before the audit log existed)."""
    out = []
    audited = {(e.night_id, "adopted" if e.action == "adopt" else "rolled back") for e in audit}
    for e in audit:
        files = ", ".join(f.path for f in e.files) or "no file changed"
        why = f"{e.reason}; " if e.reason else ""
        by = f" by {e.user}" if e.user else ""
        out.append(Change(e.time.timestamp(), "adopted" if e.action == "adopt" else "rolled back",
                          f"{e.candidate} (run {e.run_id})", e.night_id,
                          f"{why}files: {files}{by}"))
    for n in nights:
        when = n.ended_at or n.started_at
        for action, stage in (("adopted", n.adopted), ("rolled back", n.rolled_back)):
            if stage and (n.night_id, action) not in audited:
                out.append(Change(when, action, stage, n.night_id, _edits_text(n, stage)))
    return sorted(out, key=lambda c: c.when)


def _edits_text(n: NightRecord, stage: str) -> str:
    hits = [c for c in n.candidates if c.path and (c.path in stage or stage in c.path)]
    rationales = [str(e.get("rationale", "")) for c in hits for e in c.edits if e.get("rationale")]
    return "; ".join(rationales) or n.decision


# ------------------------------------------------------------------------------ SVG


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def line_chart(title: str, labels: Sequence[str], series: Series, *, percent: bool = False,
               width: int = 520, height: int = 220) -> str:
    """An inline SVG line chart: x = nights, one line per series, None = a gap; each point
    carries its value as a tooltip (<title>)."""
    esc = html.escape
    left, right, top, bottom = 56, 150, 28, 40
    pw, ph = width - left - right, height - top - bottom
    values = [v for ys in series.values() for v in ys if v is not None]
    lo = 0.0 if not values or min(values) >= 0 else min(values)
    hi = max(values) if values else 1.0
    hi = 1.0 if percent and hi <= 1.0 else (hi if hi > lo else lo + 1.0)
    n = len(labels)

    def x(i: int) -> float:
        return left + (pw / 2 if n == 1 else pw * i / (n - 1))

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    def show(v: float) -> str:
        return f"{v * 100:.0f}%" if percent else _fmt(v)

    parts = [f'<svg role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" class="chart">',
             f'<title>{esc(title)}</title>',
             f'<text x="{left}" y="16" class="t">{esc(title)}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="ax"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="ax"/>']
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" class="yl">'
                     f"{esc(show(tick))}</text>")
    step = max(1, n // 8)
    for i, lab in enumerate(labels):
        if i % step == 0 or i == n - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" class="xl">{esc(lab)}</text>')
    if not values:
        parts.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" class="none">'
                     "no data</text>")
    for k, (name, ys) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        run: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(ys):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                         f"<title>{esc(name)} · {esc(labels[i])}: {esc(show(v))}</title></circle>")
        if run:
            runs.append(run)
        for r in runs:
            if len(r) > 1:
                parts.append(f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" '
                             'stroke-width="2"/>')
        ly = top + 12 + 16 * k
        parts.append(f'<rect x="{left + pw + 12}" y="{ly - 9}" width="10" height="10" '
                     f'fill="{color}"/><text x="{left + pw + 26}" y="{ly}" class="lg">'
                     f"{esc(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------ page

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
.charts{display:flex;flex-wrap:wrap;gap:4px 16px}.chart{display:block}
.t{font-size:13px;font-weight:600}
.ax{stroke:#888}.yl{font-size:11px;text-anchor:end;fill:#555}
.xl{font-size:11px;text-anchor:middle;fill:#555}.lg{font-size:12px}.none{fill:#999}
.accept{color:#1a7f37}.reject,.rolled_back{color:#cf222e}.inconclusive{color:#9a6700}
"""


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _labels(nights: Sequence[NightRecord]) -> list[str]:
    days = [datetime.fromtimestamp(n.started_at, UTC).strftime("%m-%d") for n in nights]
    return [d if days.count(d) == 1 else f"{d} #{days[:i + 1].count(d)}"
            for i, d in enumerate(days)]


def project_section(project: str, nights: Sequence[NightRecord],
                    audit: Sequence[AuditEntry]) -> str:
    """One project's plots, nights table and list of adopted / rolled-back edits."""
    esc = html.escape
    labels = _labels(nights)
    rates = repeat_error_rates(nights)
    charts = [
        line_chart("held-out score per variant", labels,
                   variant_series(nights, lambda n: n.scores), percent=True),
        line_chart("pass rate per variant", labels,
                   variant_series(nights, lambda n: n.pass_rates), percent=True),
        line_chart("steps to green (mean agent turns of passing trials)", labels,
                   variant_series(nights, lambda n: n.steps_to_green)),
        line_chart("tokens per trial", labels,
                   variant_series(nights, lambda n: n.tokens_per_trial)),
        line_chart("repeat-error rate (errors seen on an earlier night)",
                   labels, {"repeat errors": rates}, percent=True),
    ]
    rows = []
    for n, lab, rate in zip(nights, labels, rates, strict=True):
        verdict = n.verdict or n.status
        rows.append(
            f"<tr><td>{esc(lab)}</td><td>{esc(n.night_id)}</td><td>{esc(_day(n.started_at))}"
            f"</td><td>{esc(n.status)}</td><td class=\"{esc(verdict)}\">{esc(verdict)}</td>"
            f"<td>{esc(n.decision or n.message)}</td><td>{n.harvested}</td><td>{n.mined}</td>"
            f"<td>{n.replayed}</td><td>{n.tokens:,}</td><td>{n.wall_s:.0f}</td>"
            f"<td>{'—' if rate is None else f'{rate * 100:.0f}%'}</td></tr>")
    table = ("<table class=\"nights\"><tr><th>night</th><th>id</th><th>started (UTC)</th>"
             "<th>status</th><th>verdict</th><th>decision</th><th>harvested</th><th>mined</th>"
             "<th>trials</th><th>tokens</th><th>wall s</th><th>repeat errors</th></tr>"
             + "".join(rows) + "</table>")
    items = [f"<li><b>{esc(c.action)}</b> {esc(_day(c.when))} — {esc(c.what)}"
             f"{' (night ' + esc(c.night_id) + ')' if c.night_id else ''}: {esc(c.detail)}</li>"
             for c in changes(nights, audit)]
    edits = f"<ul class=\"changes\">{''.join(items)}</ul>" if items else "<p>none yet</p>"
    return (f"<section id=\"project-{esc(project)}\"><h2>{esc(project)}: {len(nights)} "
            f"night(s)</h2><div class=\"charts\">{''.join(charts)}</div>"
            f"<h3>Nights</h3>{table}"
            f"<h3>Adopted and rolled-back edits</h3>{edits}</section>")


def render(sections: dict[str, tuple[Sequence[NightRecord], Sequence[AuditEntry]]]) -> str:
    """The whole page: one section per project."""
    body = "".join(project_section(p, n, a) for p, (n, a) in sections.items())
    if not sections:
        body = "<p>No nights recorded yet: run <code>harness nightly</code> first.</p>"
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>harness nightly history</title>"
            f"<style>{_CSS}</style></head><body><h1>Nightly history</h1>{body}</body></html>")


def write_report(db_path: Path, out: Path, project: str | None = None) -> tuple[Path, int]:
    """Write ``history.html`` for one project (or all) from the store; the page's path and
    how many nights it shows."""
    sections: dict[str, tuple[Sequence[NightRecord], Sequence[AuditEntry]]] = {}
    if db_path.is_file():
        with NightStore(db_path) as store:
            for p in [project] if project else store.projects():
                nights = store.nights(p)
                if nights:
                    sections[p] = (nights, audit_entries(db_path, p))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render(sections), encoding="utf-8")
    tmp.replace(out)
    return out, sum(len(n) for n, _ in sections.values())
