"""``harness report | stage | adopt | rollback``: the gate's commands, mounted by the main CLI.

Exit codes are the CI contract: 0 accept (or a successful stage/adopt/rollback), 1 reject,
2 inconclusive or any error. Errors print as one line (``HarnessError.one_line``); the main
CLI's ``--debug`` is where tracebacks belong, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gate.decision import decide
from gate.io import load_policy, load_trials, read_text_files
from gate.models import GateDecision, TrialRecord
from gate.report import write_reports
from gate.staging import adopt as adopt_staged
from gate.staging import rollback as rollback_staged
from gate.staging import stage as stage_candidate
from harness.errors import HarnessError, ValidationFailed

app = typer.Typer(help="Gate a run: report, stage, adopt, rollback.", no_args_is_help=True)

EXIT_ERROR = 2
F = TypeVar("F", bound=Callable[..., Any])

RunArg = Annotated[
    Path,
    typer.Argument(
        help="run directory (with trials.json or trials.jsonl) or a JSON file of trial records"
    ),
]
BaselineOpt = Annotated[str, typer.Option(help="the baseline variant's name")]
PolicyOpt = Annotated[Path | None, typer.Option(help="gate policy JSON (thresholds)")]


def _errors_exit(fn: F) -> F:
    """Turn HarnessError into one stderr line and exit 2 (never a traceback for bad input)."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            typer.echo(f"error: {exc.one_line()}", err=True)
            if isinstance(exc, ValidationFailed):
                typer.echo(exc.details(), err=True)
            raise typer.Exit(EXIT_ERROR) from None

    return run  # type: ignore[return-value]


def _run_dir(run: Path) -> Path:
    return run if run.is_dir() else run.parent


def _decide(
    run: Path, baseline: str, policy: Path | None
) -> tuple[GateDecision, list[TrialRecord]]:
    trials = load_trials(run)
    variants_dir = _run_dir(run) / "variants"
    files = {}
    if variants_dir.is_dir():
        files = {p.name: read_text_files(p) for p in sorted(variants_dir.iterdir()) if p.is_dir()}
    cand_files = {k: v for k, v in files.items() if k != baseline}
    decision = decide(
        trials,
        baseline=baseline,
        policy=load_policy(policy),
        candidate_files=cand_files or None,
        baseline_files=files.get(baseline),
    )
    return decision, trials


def _say(decision: GateDecision) -> None:
    chosen = f" ({decision.chosen})" if decision.chosen else ""
    typer.echo(f"gate: {decision.decision}{chosen}")
    for reason in decision.reasons:
        typer.echo(f"  - {reason}")


@app.command()
@_errors_exit
def report(
    run: RunArg,
    out: Annotated[
        Path | None, typer.Option(help="where to write reports (default: RUN/report)")
    ] = None,
    baseline: BaselineOpt = "baseline",
    policy: PolicyOpt = None,
) -> None:
    """Decide and write report.md, report.json, report.html and junit.xml; exit 0/1/2."""
    decision, trials = _decide(run, baseline, policy)
    out_dir = out or _run_dir(run) / "report"
    paths = write_reports(decision, trials, out_dir, run_dir=_run_dir(run))
    _say(decision)
    typer.echo(f"reports: {paths.markdown.parent}")
    raise typer.Exit(decision.exit_code)


@app.command()
@_errors_exit
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
    baseline: BaselineOpt = "baseline",
    policy: PolicyOpt = None,
) -> None:
    """Stage the accepted candidate, mapped onto the live skill's layout, with a manifest
    pinning the live files' SHA-256."""
    decision, _trials = _decide(run, baseline, policy)
    _say(decision)
    if decision.decision != "accept" or decision.chosen is None:
        typer.echo("nothing staged: the gate did not accept a candidate", err=True)
        raise typer.Exit(decision.exit_code)
    src = candidate_dir or _run_dir(run) / "variants" / decision.chosen
    dst = stage_dir or _run_dir(run) / "stage"
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


@app.command()
@_errors_exit
def adopt(stage_dir: Annotated[Path, typer.Argument(help="a folder written by `stage`")]) -> None:
    """Apply a staged candidate; refuses when the live files changed since staging."""
    m = adopt_staged(stage_dir)
    changes = m.changes()
    typer.echo(
        f"adopted {m.candidate} into {m.live} ({m.layout}): {len(changes)} file(s) changed, "
        f"{len(m.files) - len(changes)} already identical; backup in {stage_dir / 'backup'}"
    )
    for f in changes:
        typer.echo(f"  {'created' if f.action == 'create' else 'replaced'} {f.path}")


@app.command()
@_errors_exit
def rollback(
    stage_dir: Annotated[Path, typer.Argument(help="a folder written by `stage` and adopted")],
    force: Annotated[bool, typer.Option(help="restore even if live files changed since")] = False,
) -> None:
    """Restore the live files as they were before adopt, and remove the ones it created."""
    m = rollback_staged(stage_dir, force=force)
    changes = m.changes()
    typer.echo(f"rolled back {m.candidate} in {m.live}: {len(changes)} file(s) restored")
    for f in changes:
        typer.echo(f"  {'removed' if f.action == 'create' else 'restored'} {f.path}")
