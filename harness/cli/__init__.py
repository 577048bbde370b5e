"""The ``harness`` command line (typer + rich).

Why a hand-rolled ``main``: every error a user can hit is a ``HarnessError`` and must print
as one line saying what happened and what to do; a traceback only with ``--debug``.
Sub-command groups live in their own modules and are mounted here, explicitly.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from harness.errors import HarnessError, ValidationFailed

err_console = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="harness",
    help=(
        "Replay coding-agent tasks through the real claude / codex terminal UIs in containers, "
        "and gate skill changes (SKILL.md, CLAUDE.md, AGENTS.md) on the evidence."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# group modules mounted as `harness <name> ...`
_GROUPS = {"images": "harness.cli.images_cmd", "tasks": "harness.cli.tasks_cmd", "nightly": "harness.cli.nightly_cmd"}
# modules whose commands are mounted at the top level
_TOP = ["harness.cli.infra_cmd", "harness.cli.run_cmd", "harness.cli.gate_cmd", "harness.cli.harvest_cmd", "harness.cli.mine_cmd", "harness.cli.propose_cmd"]


def _mount() -> None:
    for name, mod in _GROUPS.items():
        try:
            sub = importlib.import_module(mod).app
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        app.add_typer(sub, name=name)
    for mod in _TOP:
        try:
            sub = importlib.import_module(mod).app
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        app.registered_commands.extend(sub.registered_commands)
        app.registered_groups.extend(sub.registered_groups)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """Global options (``--debug`` is consumed by ``main`` before typer parses)."""


_mount()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turn HarnessError into one line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        app(args=args, prog_name="harness", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except HarnessError as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {exc.one_line()}", soft_wrap=True)
        if isinstance(exc, ValidationFailed) and len(exc.errors) > 1:
            for e in exc.errors:
                err_console.print(f"  {e}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    return 0
