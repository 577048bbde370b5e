"""``harness nightly``: one night of a project, from ``nightly.yaml`` (see the README).

The group's callback runs the night, so ``harness nightly --config F`` is the command a user
(or cron) runs; subcommands (schedule, status, report) mount beside it. One progress line per
stage goes to stderr (stdout stays clean for ``--json``, the NightRecord). Exit codes: 0 a
night that finished (any verdict, or nothing to do), 3 a night stopped by its budget
(``--resume`` finishes it), 2 an error (one line).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="One night of the nightly cycle: harvest, mine, propose, replay, watch, gate, stage, adopt.")
err = Console(stderr=True, highlight=False)


@app.callback(invoke_without_command=True)
def nightly(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The night's settings (default: ./nightly.yaml).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the project's latest unfinished night, skipping its finished stages.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the night's record as JSON.")] = False,
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="Where runs and the store live (default: runs_dir in the config, else ./runs or $HARNESS_RUNS_DIR).")] = None,
) -> None:
    """Run one night for a project (harvest → mine → propose → replay → watch → gate → stage → adopt)."""
    if ctx.invoked_subcommand is not None:
        return
    from harness.errors import ConfigError
    from harness.nightly.config import load_config
    from harness.nightly.night import run_night

    if config is None:
        if not Path("nightly.yaml").is_file():
            raise ConfigError("no --config and no ./nightly.yaml",
                              hint="pass --config FILE; the README's Nightly section has an example")
        config = Path("nightly.yaml")
    cfg = load_config(config)

    def say(stage: str, line: str) -> None:
        err.print(f"[bold]{stage:<8}[/bold] {line}", soft_wrap=True, highlight=False)

    rec = run_night(cfg, resume=resume, runs_dir=runs_dir, say=say)
    if as_json:
        sys.stdout.write(rec.model_dump_json(indent=2) + "\n")
    else:
        err.print(f"night {rec.night_id}: {rec.status}"
                  + (f", {rec.verdict}" if rec.verdict else "")
                  + (f" — {rec.decision}" if rec.decision else "")
                  + (f" ({rec.message})" if rec.message and rec.message != rec.decision else ""),
                  soft_wrap=True, markup=False)
    if rec.status == "interrupted":
        raise typer.Exit(3)


def _mount_admin() -> None:
    """schedule / unschedule / status / report live in their own module, beside the night."""
    from harness.cli import nightly_admin_cmd

    app.registered_commands.extend(nightly_admin_cmd.app.registered_commands)


_mount_admin()
