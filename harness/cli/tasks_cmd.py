"""``harness tasks validate|import``: check a suite, or import one from another format.

Why errors print one per line without a traceback: the reader is fixing a task file, and
``file:line: field: what is wrong`` is what they need; ``--json`` gives the same list to a
script. Exit codes: 0 ok, 1 invalid input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from harness.errors import HarnessError, ValidationFailed
from harness.tasks.importers import IMPORTERS, get_importer
from harness.tasks.loader import check_suite

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON report.")]

app = typer.Typer(help="Validate task suites and import them from other formats.",
                  no_args_is_help=True, add_completion=False)


def _fail(exc: HarnessError, as_json: bool) -> NoReturn:
    errors = exc.errors if isinstance(exc, ValidationFailed) else []
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": exc.one_line(),
                               "errors": [{"where": e.where, "message": e.message}
                                          for e in errors]}, indent=2))
    else:
        for e in errors:
            typer.echo(str(e), err=True)
        typer.echo(f"error: {exc.one_line()}", err=True)
    raise typer.Exit(1)


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A suite folder or one task file.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a suite and report every error at once, with file and line."""
    try:
        suite, errors = check_suite(path)
    except HarnessError as exc:
        _fail(exc, as_json)
    if errors:
        _fail(ValidationFailed(f"suite {path}", errors), as_json)
    assert suite is not None
    if as_json:
        typer.echo(json.dumps({"ok": True, "errors": [], **suite.summary()}, indent=2))
        return
    counts = ", ".join(f"{k} {v}" for k, v in suite.split_counts().items())
    typer.echo(f"ok: suite {suite.name}: {len(suite)} tasks ({counts})")


_KIND_OPTIONS = {
    "skillopt-sleep": {"require_reviewed"},
    "gbrain": {"held_out"},
    "terminal-bench": {"base_image", "offline_tests"},
}


@app.command("import")
def import_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(IMPORTERS))}.")],
    src: Annotated[Path, typer.Argument(help="The source file or folder.")],
    dest: Annotated[Path, typer.Argument(help="The suite folder to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty DEST.")] = False,
    require_reviewed: Annotated[bool, typer.Option(
        "--require-reviewed", help="skillopt-sleep: refuse files marked reviewed=false.")
    ] = False,
    held_out: Annotated[Path | None, typer.Option(
        "--held-out", help="gbrain: use this held-out.jsonl instead of the seed's.")] = None,
    base_image: Annotated[str | None, typer.Option(
        "--base-image", help="terminal-bench: replace the Dockerfile's FROM image.")] = None,
    offline_tests: Annotated[bool, typer.Option(
        "--offline-tests", help="terminal-bench: run pytest from the image, no installer.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import tasks from another format into a harness.task/v1 suite folder."""
    given: dict[str, Any] = {"require_reviewed": require_reviewed, "held_out": held_out,
                             "base_image": base_image, "offline_tests": offline_tests}
    try:
        fn = get_importer(kind)
        allowed = _KIND_OPTIONS.get(kind, set())
        stray = [k for k, v in given.items() if v not in (None, False) and k not in allowed]
        if stray:
            flag = "--" + stray[0].replace("_", "-")
            raise HarnessError(f"{flag} does not apply to {kind}")
        if not src.exists():
            raise HarnessError(f"{src} does not exist")
        result = fn(src, dest, force=force, **{k: v for k, v in given.items() if k in allowed})
    except HarnessError as exc:
        _fail(exc, as_json)
    if as_json:
        typer.echo(json.dumps({"ok": True, "dest": str(result.dest), "notes": result.notes,
                               "suites": [s.summary() for s in result.suites]}, indent=2))
        return
    for s in result.suites:
        counts = ", ".join(f"{k} {v}" for k, v in s.split_counts().items() if v)
        typer.echo(f"wrote {s.root}: {len(s)} tasks ({counts})")
    for note in result.notes:
        typer.echo(f"note: {note}")
