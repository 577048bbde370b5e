"""The gate's one entry point for a run: its records and variant files in, a decision (and
its reports) out.

Why one function: ``harness run`` (gating at the end of a run) and ``harness report`` /
``stage`` (gating a finished run folder, or CI artifacts) used to assemble the same
inputs twice, and drifted (one passed the model mode, the other did not). Both call
:func:`gate_run` now. The caller says where things are; the gate does not know the runner's
folder layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gate.decision import GatePolicy, decide
from gate.io import load_policy, load_trials, read_text_files
from gate.models import GateDecision, ModelMode, TrialRecord
from gate.report import write_reports


def variant_files(variants_dir: Path | None) -> dict[str, dict[str, str]]:
    """Each variant's text files under ``variants_dir/<name>/`` (a bare variant has none)."""
    if variants_dir is None or not variants_dir.is_dir():
        return {}
    return {p.name: read_text_files(p) for p in sorted(variants_dir.iterdir()) if p.is_dir()}


def gate_run(
    trials: Sequence[TrialRecord] | Path,
    *,
    baseline: str,
    policy: GatePolicy | Path | None = None,
    variants_dir: Path | None = None,
    model_mode: ModelMode | None = None,
    report_dir: Path | None = None,
    run_dir: Path | None = None,
) -> tuple[GateDecision, list[TrialRecord]]:
    """Decide a run; with ``report_dir``, write its four reports there too.

    ``trials`` is the records or a file / folder holding them (:func:`gate.io.load_trials`);
    ``policy`` the thresholds or a YAML/JSON file of them (None: the defaults).
    """
    records = load_trials(trials) if isinstance(trials, Path) else list(trials)
    thresholds = policy if isinstance(policy, GatePolicy) else load_policy(policy)
    files = variant_files(variants_dir)
    candidate_files = {k: v for k, v in files.items() if k != baseline}
    decision = decide(records, baseline=baseline, policy=thresholds,
                      candidate_files=candidate_files or None, baseline_files=files.get(baseline),
                      model_mode=model_mode)
    if report_dir is not None:
        write_reports(decision, records, report_dir, run_dir=run_dir)
    return decision, records
