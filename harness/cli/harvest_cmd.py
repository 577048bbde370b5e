"""``harness harvest``: read the user's claude / codex session files into redacted digests.

Progress goes to stderr (one line per session file read); the summary (or ``--json``, the
whole report with its digests) to stdout. Bad input is reported in the summary with its
file and line, never raised: only a bad option or a missing explicit home is an error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.runner.paths import default_runs_root

app = typer.Typer()
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@app.command()
def harvest(
    source: Annotated[
        str, typer.Option(help="claude | codex | opencode | gemini | qwen | auto (every CLI home that exists).")
    ] = "auto",
    since: Annotated[
        str | None, typer.Option(help="Only sessions active since: ISO date/time, or 7d / 36h.")
    ] = None,
    project: Annotated[
        Path | None, typer.Option(help="Only sessions whose cwd is inside this directory.")
    ] = None,
    max_sessions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Read at most N sessions (newest first); the rest wait for the next harvest.",
        ),
    ] = None,
    claude_home: Annotated[
        Path | None, typer.Option(help="Claude's config dir [$CLAUDE_CONFIG_DIR or ~/.claude].")
    ] = None,
    codex_home: Annotated[
        Path | None, typer.Option(help="Codex's home [$CODEX_HOME or ~/.codex].")
    ] = None,
    opencode_home: Annotated[
        Path | None,
        typer.Option(help="opencode's data dir, holding opencode.db "
                          "[$XDG_DATA_HOME/opencode or ~/.local/share/opencode]."),
    ] = None,
    gemini_home: Annotated[
        Path | None, typer.Option(help="Gemini CLI's dir [$GEMINI_CLI_HOME/.gemini or ~/.gemini].")
    ] = None,
    qwen_home: Annotated[
        Path | None, typer.Option(help="Qwen Code's dir [$QWEN_HOME or ~/.qwen].")
    ] = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option("--runs-dir", help="Where the store lives [./runs or $HARNESS_RUNS_DIR]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report with every new digest as JSON.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")
    ] = False,
) -> None:
    """Harvest past claude / codex / opencode / gemini / qwen sessions (redacted) as digests for mining and replay."""
    from harness.harvest import HarvestOptions, HarvestStore, parse_since
    from harness.harvest import harvest as run_harvest

    opts = HarvestOptions(
        source=source,
        since=parse_since(since) if since else None,
        project=project,
        max_sessions=max_sessions,
        claude_home=claude_home,
        codex_home=codex_home,
        opencode_home=opencode_home,
        gemini_home=gemini_home,
        qwen_home=qwen_home,
    )
    root = (runs_dir or default_runs_root()).resolve()
    with HarvestStore(root / "harness.db") as store:
        rep = run_harvest(
            opts,
            store,
            say=(lambda m: None)
            if quiet
            else (lambda m: err.print(m, soft_wrap=True, markup=False)),
        )
    if as_json:
        sys.stdout.write(rep.model_dump_json(by_alias=True, indent=2) + "\n")
        return
    t = Table(title=f"harvest {rep.project or '(all projects)'}")
    for col in ("agent", "session", "started", "prompts", "tests", "start commit"):
        t.add_column(col)
    for d in rep.digests:
        tests = f"{d.test_runs[-1].outcome} ({len(d.test_runs)})" if d.test_runs else "-"
        commit = (
            (d.start.commit or "")[:10] + (" ~" if d.start.approximate else "")
            if d.start.commit
            else f"none: {d.start.problem}"
        )
        t.add_row(
            d.agent,
            d.session_id[:13],
            d.started_at.strftime("%Y-%m-%d %H:%M") if d.started_at else "-",
            str(len(d.turns)),
            tests,
            Text(commit),
        )
    if rep.digests:
        console.print(t)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(rep.skipped_reasons.items()))
    console.print(
        f"found {rep.found}, read {rep.read}, kept {rep.kept}, unchanged {rep.unchanged}, "
        f"skipped {rep.skipped}" + (f" ({reasons})" if reasons else ""),
        soft_wrap=True,
    )
    for p in rep.problems:
        console.print(
            f"  {p.file}{':' + str(p.line) if p.line else ''}: {p.what}",
            soft_wrap=True,
            markup=False,
        )
