"""report.md: what a person reads first — the verdict, its reasons, then the evidence.

Deterministic on purpose (no clock, sorted rows): the same run renders the same bytes, so
the golden file test can hold it and a diff between two nights means the numbers moved.
"""

from __future__ import annotations

from collections.abc import Sequence

from gate.models import CandidateDecision, GateDecision, TrialRecord, VariantMetrics


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def fmt_rate(rate: float | None, ci: tuple[float, float] | None) -> str:
    """A pass rate with its interval, e.g. ``0.50 [0.09, 0.91]``."""
    if rate is None:
        return "—"
    return f"{rate:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def candidate_headline(c: CandidateDecision, n_boot: object = None) -> str:
    """The verdict, the rule that decided it, and the lift's numbers, on one line.

    A p-value of 0 means no bootstrap replicate was at or below min_lift: shown as
    ``p < 1/n_boot`` when the policy's ``n_boot`` is known, since that is all it says.
    """
    rule = f" ({c.rule} rule)" if c.rule else ""
    if c.lift is None:
        return f"{c.decision}{rule}"
    p = "" if c.p_value is None else f", p {c.p_value:.4f}"
    if c.p_value == 0 and isinstance(n_boot, int) and n_boot > 0:
        p = f", p < {1 / n_boot:.4f}"
    holm = "" if c.p_holm is None else f", Holm-adjusted p {c.p_holm:.4f}"
    return (
        f"{c.decision}{rule} — heldout lift {c.lift:+.3f}, CI [{fmt(c.ci_low, '+.3f')}, "
        f"{fmt(c.ci_high, '+.3f')}]{p}{holm}"
    )


def _metrics_table(metrics: Sequence[VariantMetrics]) -> list[str]:
    ks = sorted({k for m in metrics for k in m.pass_at_k}, key=int)
    head = [
        "variant",
        "trials",
        "unscorable",
        "pass rate",
        "mean mixed",
        *[f"pass@{k}" for k in ks],
        "steps to green",
        "repeat-error rate",
        "tokens/trial",
        "sec/trial",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in metrics:
        cells = [
            m.variant,
            str(m.trials),
            str(m.unscorable),
            fmt(m.pass_rate),
            fmt(m.mean_mixed),
            *[fmt(m.pass_at_k.get(k)) for k in ks],
            fmt(m.mean_steps_to_green, ".1f"),
            fmt(m.repeat_error_rate),
            fmt(m.mean_tokens, ".0f"),
            fmt(m.mean_duration_sec, ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(decision: GateDecision, trials: Sequence[TrialRecord]) -> str:
    d = decision
    out = [
        f"# Gate report: {d.run_id}",
        "",
        f"**Decision: {d.decision.upper()}**"
        + (f" — adopt `{d.chosen}`" if d.chosen else "")
        + f" (baseline `{d.baseline}`; exit code {d.exit_code})",
        "",
        "## Reasons",
        "",
        *[f"- {r}" for r in d.reasons],
        "",
        "## Metrics",
        "",
        *_metrics_table(d.metrics),
        "",
    ]
    conf = d.policy.get("confidence")
    rate_ci = f" [{conf:.0%} CI]" if isinstance(conf, float) else " [CI]"
    head = (
        "| task | split | baseline | candidate | delta | trials (b/c) | unscorable (b/c) "
        f"| baseline pass rate{rate_ci} | candidate pass rate{rate_ci} | |"
    )
    for c in d.candidates:
        out += [
            f"## Candidate `{c.candidate}`: {candidate_headline(c, d.policy.get('n_boot'))}",
            "",
            *[f"- {r}" for r in c.reasons],
            "",
            head,
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in c.tasks:
            flag = "REGRESSED" if r.regressed else ""
            out.append(
                f"| {r.task_id} | {r.split} | {fmt(r.baseline_score)} | {fmt(r.candidate_score)} "
                f"| {fmt(r.delta, '+.3f')} | {r.baseline_trials}/{r.candidate_trials} "
                f"| {r.baseline_unscorable}/{r.candidate_unscorable} "
                f"| {fmt_rate(r.baseline_pass_rate, r.baseline_pass_ci)} "
                f"| {fmt_rate(r.candidate_pass_rate, r.candidate_pass_ci)} | {flag} |"
            )
        out.append("")
    bad = [t for t in trials if not t.scorable]
    if bad:
        out += [
            "## Unscorable trials",
            "",
            "| task | variant | attempt | status | reason |",
            "|---|---|---|---|---|",
        ]
        for t in sorted(bad, key=lambda t: (t.task_id, t.variant, t.attempt)):
            reason = t.reason or "; ".join(c.reason for c in t.check_results if c.passed is None)
            out.append(
                f"| {t.task_id} | {t.variant} | {t.attempt} | {t.status} | "
                f"{reason.replace('|', '/')} |"
            )
        out.append("")
    return "\n".join(out)
