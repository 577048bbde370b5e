"""``harness report | stage | adopt | rollback``: the gate's commands, mounted by the main CLI.

Exit codes are the CI contract: 0 accept (or a successful stage/adopt/rollback), 1 reject,
2 inconclusive or any error. Errors print as one line (``HarnessError.one_line``); the main
CLI's ``--debug`` is where tracebacks belong, not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from gate.audit import AuditEntry
from gate.audit import entry_for as audit_entry
from gate.models import GateDecision, TrialRecord
from gate.staging import adopt as adopt_staged
from gate.staging import rollback as rollback_staged
from gate.staging import stage as stage_candidate
from gate.verdict import gate_run
from harness.cli.common import RunsDir, errors_exit, one_of
from harness.errors import ConfigError
from harness.nightly.audit import record as record_audit
from harness.runner.paths import RunPaths, default_runs_root

app = typer.Typer(help="Gate a run: report, stage, adopt, rollback.", no_args_is_help=True)


RunArg = Annotated[
    str,
    typer.Argument(
        help="run id, run folder (with trials.json or trials.jsonl) or a JSON file of trial "
        "records"
    ),
]
BaselineOpt = Annotated[
    str | None, typer.Option(help="the baseline variant's name (default: the run's first, else 'baseline')")
]
PolicyOpt = Annotated[
    Path | None, typer.Option("--gate-policy", help="gate thresholds (YAML/JSON)")
]
PolicyAlias = Annotated[Path | None, typer.Option("--policy", hidden=True, help="old name of --gate-policy")]



@dataclass(frozen=True)
class _Run:
    """What the gate commands were pointed at: the records, and the run folder's paths."""

    records: Path
    paths: RunPaths
    baseline: str | None = None     # the run's first variant, from its run.json
    model_mode: Any = None


def _locate(ref: str, runs_dir: Path | None) -> _Run:
    """A run id (under --runs-dir), a run folder or a records file."""
    p = Path(ref).expanduser()
    if p.is_file():
        return _Run(p, RunPaths.of_dir(p.parent))
    folder = p.resolve() if p.is_dir() else None
    if folder is None:
        if "/" in ref or ref.startswith("."):
            raise ConfigError(f"{p} does not exist", hint="pass a run folder, a trials JSON file or a run id")
        root = (runs_dir or default_runs_root()).resolve()
        folder = RunPaths(root, ref).run_dir
        if not folder.is_dir():
            raise ConfigError(f"no run {ref} in {root}", hint="see `harness runs`, or pass a run folder")
    paths = RunPaths.of_dir(folder)
    baseline = mode = None
    if paths.config.is_file():
        try:
            cfg = json.loads(paths.config.read_text())
            baseline = next(iter(cfg.get("variants") or {}), None)
            mode = cfg.get("model_mode", cfg.get("model"))
        except (OSError, ValueError, AttributeError):
            pass  # CI artifacts may carry any run.json: the defaults then apply
    return _Run(folder, paths, baseline, mode)


def _decide(
    ref: str, baseline: str | None, policy: Path | None, runs_dir: Path | None,
    report_dir: Path | None = None,
) -> tuple[GateDecision, list[TrialRecord], RunPaths]:
    run = _locate(ref, runs_dir)
    decision, trials = gate_run(
        run.records, baseline=baseline or run.baseline or "baseline", policy=policy,
        variants_dir=run.paths.variants_dir, model_mode=run.model_mode,
        report_dir=report_dir, run_dir=run.paths.run_dir if report_dir else None,
    )
    return decision, trials, run.paths


def _say(decision: GateDecision) -> None:
    chosen = f" ({decision.chosen})" if decision.chosen else ""
    typer.echo(f"gate: {decision.decision}{chosen}")
    for reason in decision.reasons:
        typer.echo(f"  - {reason}")


@app.command()
@errors_exit
def report(
    run: RunArg,
    out: Annotated[
        Path | None, typer.Option(help="where to write reports (default: RUN/report)")
    ] = None,
    baseline: BaselineOpt = None,
    gate_policy: PolicyOpt = None,
    policy_alias: PolicyAlias = None,
    runs_dir: RunsDir = None,
) -> None:
    """Decide and write report.md, report.json, report.html and junit.xml; exit 0/1/2."""
    policy = one_of(gate_policy, "--gate-policy", policy_alias, "--policy")
    run_paths = _locate(run, runs_dir).paths
    decision, _trials, _ = _decide(run, baseline, policy, runs_dir, out or run_paths.report_dir)
    _say(decision)
    typer.echo(f"reports: {out or run_paths.report_dir}")
    raise typer.Exit(decision.exit_code)


@app.command()
@errors_exit
def stage(
    run: RunArg,
    live: Annotated[
        Path,
        typer.Option(
            help="the live skill: a skill folder (SKILL.md at its root), a folder of skills, "
            "or a SKILL.md / CLAUDE.md / AGENTS.md file"
        ),
    ],
    candidate_dir: Annotated[
        Path | None,
        typer.Option(help="candidate files, a folder or one file (default: RUN/variants/<chosen>)"),
    ] = None,
    stage_dir: Annotated[
        Path | None, typer.Option(help="staging folder (default: RUN/stage)")
    ] = None,
    baseline: BaselineOpt = None,
    gate_policy: PolicyOpt = None,
    policy_alias: PolicyAlias = None,
    runs_dir: RunsDir = None,
) -> None:
    """Stage the accepted candidate, mapped onto the live skill's layout, with a manifest
    pinning the live files' SHA-256."""
    policy = one_of(gate_policy, "--gate-policy", policy_alias, "--policy")
    decision, _trials, paths = _decide(run, baseline, policy, runs_dir)
    _say(decision)
    if decision.decision != "accept" or decision.chosen is None:
        typer.echo("nothing staged: the gate did not accept a candidate", err=True)
        raise typer.Exit(decision.exit_code)
    src = candidate_dir or paths.variant_dir(decision.chosen)
    dst = stage_dir or paths.stage_dir
    m = stage_candidate(
        run_id=decision.run_id,
        candidate=decision.chosen,
        candidate_dir=src,
        live_root=live,
        stage_dir=dst,
    )
    typer.echo(f"staged {len(m.files)} file(s) of {m.candidate} in {dst} "
               f"for {m.live} ({m.layout}):")
    for f in m.files:
        typer.echo(f"  {f.action:9} {f.path}" + (f"  <- {f.source}" if f.source != f.path else ""))


ReasonOpt = Annotated[str, typer.Option(help="why, for the audit log beside the live files")]


def _audit(stage_dir: Path, runs_dir: Path | None, entry: AuditEntry) -> None:
    """Record the entry in the store too: --runs-dir's, else the one holding the run the stage
    folder belongs to (RUN/stage), else the default runs root's when it has one. Without any
    store the JSONL file beside the live files is the whole log (no store is created for it)."""
    db = None if runs_dir is None else runs_dir.resolve() / "harness.db"
    for root in (stage_dir.resolve().parent.parent, default_runs_root()):
        if db is None and (root / "harness.db").is_file():
            db = root / "harness.db"
    if db is None:
        typer.echo(f"audit log: {entry.audit_file} (no runs store found; pass --runs-dir to "
                   "record it there as well)")
        return
    record_audit(db, entry)
    typer.echo(f"audit log: {entry.audit_file} and {db}")


@app.command()
@errors_exit
def adopt(
    stage_dir: Annotated[Path, typer.Argument(help="a folder written by `stage`")],
    reason: ReasonOpt = "",
    runs_dir: RunsDir = None,
) -> None:
    """Apply a staged candidate; refuses when the live files changed since staging.

    Logged in .harness-audit.jsonl beside the live files and in the runs store."""
    m = adopt_staged(stage_dir, reason=reason)
    changes = m.changes()
    typer.echo(
        f"adopted {m.candidate} into {m.live} ({m.layout}): {len(changes)} file(s) changed, "
        f"{len(m.files) - len(changes)} already identical; backup in {stage_dir / 'backup'}"
    )
    for f in changes:
        typer.echo(f"  {'created' if f.action == 'create' else 'replaced'} {f.path}")
    _audit(stage_dir, runs_dir, audit_entry(m, "adopt", stage_dir, reason=reason))


@app.command()
@errors_exit
def rollback(
    stage_dir: Annotated[Path, typer.Argument(help="a folder written by `stage` and adopted")],
    force: Annotated[bool, typer.Option(help="restore even if live files changed since")] = False,
    reason: ReasonOpt = "",
    runs_dir: RunsDir = None,
) -> None:
    """Restore the live files as they were before adopt, and remove the ones it created.

    Logged in the audit log like adopt."""
    m = rollback_staged(stage_dir, force=force, reason=reason)
    changes = m.changes()
    typer.echo(f"rolled back {m.candidate} in {m.live}: {len(changes)} file(s) restored")
    for f in changes:
        typer.echo(f"  {'removed' if f.action == 'create' else 'restored'} {f.path}")
    _audit(stage_dir, runs_dir, audit_entry(m, "rollback", stage_dir, reason=reason, forced=force))
