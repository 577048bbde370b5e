"""``harness propose``: a model reads replayed trials and proposes edits to the skill files.

The Gateway is started here and closed on the way out (as ``harness mine --judge rubric``
does): the model is reached only through it, so the real key never leaves it. The edits and
their rationales go to stdout (or the whole proposal with ``--json``); the prompt, the reply
and the candidate folder go to ``--out``. A proposal that is not usable exits 1 with its
problems listed and the reply kept.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.cli.common import run_folder
from harness.errors import ConfigError

app = typer.Typer()
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
MODES = ("scripted", "replay", "record", "live")


def _targets(items: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--target {item!r} is not NAME=PATH",
                              hint="e.g. --target .claude/skills/fix-bugs=~/proj/.claude/skills/fix-bugs")
        out[name.strip().strip("/")] = Path(path.strip()).expanduser().resolve()
    return out


def _runs(refs: list[str], runs_dir: Path | None) -> list[Path]:
    out: list[Path] = []
    for ref in refs:
        folder = run_folder(ref) or (run_folder(str(runs_dir / ref)) if runs_dir else None)
        if folder is None:
            raise ConfigError(f"{ref} is not a run folder (no run.json or trials.jsonl there)",
                              hint="pass folders `harness run` wrote, or run ids with --runs-dir")
        out.append(folder)
    return out


def _gateway(mode: str, script: Path | None, cassette: Path | None) -> Any:
    from harness.gateway.server import Gateway

    if mode == "scripted":
        if script is None:
            raise ConfigError("--model-mode scripted needs --script FILE (the scripted rules)")
        return Gateway("scripted", policy=script)
    if mode == "replay":
        if cassette is None or not cassette.is_file():
            raise ConfigError("--model-mode replay needs --cassette FILE (an existing one)")
        return Gateway("replay", cassette=cassette)
    if mode in ("record", "live"):
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise ConfigError(f"--model-mode {mode} needs the real key in ANTHROPIC_API_KEY",
                              hint="it stays in the Gateway; or use --model-mode scripted/replay")
        if mode == "record":
            if cassette is None:
                raise ConfigError("--model-mode record needs --cassette FILE to write")
            return Gateway("record", cassette=cassette)
        return Gateway("passthrough")
    raise ConfigError(f"--model-mode {mode!r} is not one of {', '.join(MODES)}")


@app.command()
def propose(
    run_dirs: Annotated[list[str], typer.Argument(metavar="RUN_DIR...", help="Run folders (or ids under --runs-dir) whose trials are the evidence.")],
    target: Annotated[list[str], typer.Option("--target", help="NAME=PATH: a file or skill folder to edit; NAME is its path in the project (e.g. .claude/skills/x, CLAUDE.md). Repeat.")],
    out: Annotated[Path, typer.Option(help="Folder for prompt.md, reply.txt, proposal.json and candidate/.")],
    model_mode: Annotated[str, typer.Option("--model-mode", help="The proposer's Gateway mode: scripted | replay | record | live.")] = "live",
    script: Annotated[Path | None, typer.Option(help="Scripted mode: the scripted model's rules (YAML).")] = None,
    cassette: Annotated[Path | None, typer.Option(help="Cassette for record (written) / replay (read).")] = None,
    model_name: Annotated[str, typer.Option(help="The proposer's model name.")] = "claude-sonnet-4-5",
    max_edits: Annotated[int, typer.Option(min=1, help="The edit budget: at most N edits.")] = 3,
    max_bytes: Annotated[int, typer.Option(min=1, help="Size limit of each proposed file, in bytes.")] = 20000,
    evidence_bytes: Annotated[int, typer.Option(min=1000, help="Size limit of the evidence shown to the model, in bytes.")] = 24000,
    project: Annotated[str, typer.Option(help="Project whose earlier rejected edits are shown as negative examples.")] = "",
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="Where harness.db lives (default: the first run folder's parent).")] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds the model call may take.")] = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposal as JSON.")] = False,
) -> None:
    """Ask a model, through the Gateway, for a bounded set of edits to the skill files."""
    from harness.propose.run import ProposeOptions
    from harness.propose.run import propose as run_propose

    rdir = runs_dir.expanduser().resolve() if runs_dir else None
    folders = _runs(run_dirs, rdir)
    targets = _targets(target)
    gw = _gateway(model_mode, script, cassette)
    with gw.start():
        key = gw.register_trial("propose")
        opts = ProposeOptions(base_url=gw.url, api_key=key.key, model=model_name,
                              max_edits=max_edits, max_bytes=max_bytes, project=project,
                              db_path=(rdir or folders[0].parent) / "harness.db",
                              timeout_s=timeout, evidence_bytes=evidence_bytes)
        p = run_propose(folders, targets, out.expanduser().resolve(), opts)
    if as_json:
        sys.stdout.write(json.dumps({
            "ok": p.ok, "error": p.error, "problems": p.problems, "edits": p.edits,
            "candidate_dir": str(p.candidate_dir) if p.candidate_dir else None,
            "reply_path": str(p.reply_path) if p.reply_path else None}, indent=2) + "\n")
    elif p.ok:
        console.print(f"proposed {len(p.edits)} edit(s) → {p.candidate_dir}", soft_wrap=True)
        for e in p.edits:
            where = f" after {e['after']!r}" if e.get("after") else ""
            console.print(f"  {e['op']} {e['section']!r}{where} in {e['file']}", soft_wrap=True,
                          markup=False)
            console.print(f"    why: {e['rationale']}", soft_wrap=True, markup=False)
    if not p.ok:
        if not as_json:
            err_console.print(f"error: {p.error}", soft_wrap=True, markup=False)
            if p.reply_path:
                err_console.print(f"the reply is kept at {p.reply_path}", soft_wrap=True,
                                  markup=False)
        raise typer.Exit(1)
