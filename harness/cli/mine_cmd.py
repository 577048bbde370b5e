"""``harness mine``: harvested digests → a ``harness.task/v1`` suite (``reviewed: false``).

The summary (tasks, splits, and why each dropped session was dropped) goes to stdout, or
the whole report with ``--json``; the suite and ``mine-report.json`` go to ``--out``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.cli.common import one_of
from harness.errors import ConfigError
from harness.runner.paths import default_runs_root

app = typer.Typer()
console = Console(highlight=False)


def _skill(path: Path) -> tuple[str, Path]:
    """The target skill's name (its SKILL.md ``name:``, else its folder) and its folder."""
    from harness.runner.variants import _skill_name

    p = path.expanduser().resolve()
    md = p if p.name == "SKILL.md" else p / "SKILL.md"
    if not md.is_file():
        raise ConfigError(f"--target-skill {path}: no SKILL.md there",
                          hint="give a skill folder holding SKILL.md, or the SKILL.md itself")
    return _skill_name(md, md.parent.name), md.parent


def _judge(built: list[Any], mode: str, policy: Path | None, cassette: Path | None, name: str) -> None:
    """Rubrics for ``built`` from a model behind a Gateway we start and close here."""
    import os

    from harness.gateway.server import Gateway
    from harness.mine.judge import write_rubrics

    if mode == "scripted":
        if policy is None:
            raise ConfigError("--judge rubric --model-mode scripted needs --script FILE")
        gw = Gateway("scripted", policy=policy)
    elif mode == "replay":
        if cassette is None or not cassette.is_file():
            raise ConfigError("--judge rubric --model-mode replay needs --cassette FILE (an existing one)")
        gw = Gateway("replay", cassette=cassette)
    elif mode in ("record", "live"):
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise ConfigError(f"--judge rubric --model-mode {mode} needs the real key in ANTHROPIC_API_KEY",
                              hint="it stays in the Gateway; or use --model-mode scripted/replay")
        if mode == "record" and cassette is None:
            raise ConfigError("--judge rubric --model-mode record needs --cassette FILE to write")
        gw = Gateway("record", cassette=cassette) if mode == "record" else Gateway("passthrough")
    else:
        raise ConfigError(f"--model-mode {mode!r} is not one of scripted, replay, record, live")
    with gw.start():
        key = gw.register_trial("mine-judge")
        for note in write_rubrics(built, base_url=gw.url, api_key=key.key, model=name):
            console.print(f"  {note}", soft_wrap=True, markup=False)


@app.command()
def mine(
    out: Annotated[Path, typer.Option(help="Folder to write the mined suite to.")],
    project: Annotated[Path | None, typer.Option(help="Only sessions whose cwd is inside this directory.")] = None,
    source: Annotated[str, typer.Option(help="claude | codex | auto (digests of both).")] = "auto",
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Prompt similarity at which two sessions are one intent.")] = 0.8,
    min_occurrences: Annotated[int, typer.Option(min=1, help="Sessions an intent needs to be a recurring task (preferred).")] = 2,
    holdout_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of intents held out.")] = 0.34,
    seed: Annotated[int, typer.Option(help="Seed of the train/heldout split.")] = 0,
    frozen: Annotated[list[str] | None, typer.Option("--frozen", help="Task id kept in the frozen split (repeat, or comma-separate).")] = None,
    target_skill: Annotated[Path | None, typer.Option(help="Prefer tasks whose sessions used or mention this skill (folder or SKILL.md); it becomes the suite's baseline variant.")] = None,
    allow_no_repo: Annotated[bool, typer.Option(help="Mine sessions without a start commit, with no workspace.")] = False,
    max_tasks: Annotated[int | None, typer.Option(min=1, help="At most N tasks (recurring and target-skill ones first).")] = None,
    name: Annotated[str | None, typer.Option(help="Suite name [the --out folder's name].")] = None,
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="Where the store lives [./runs or $HARNESS_RUNS_DIR].")] = None,
    judge: Annotated[str, typer.Option(help="none | rubric: a model writes a rubric check per task, through the Gateway.")] = "none",
    model_mode: Annotated[str | None, typer.Option("--model-mode", help="The rubric judge's Gateway mode: scripted | replay | record | live (default: live).")] = None,
    model_alias: Annotated[str | None, typer.Option("--model", hidden=True, help="Old name of --model-mode.")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="Scripted judge: the scripted model's rules (YAML).")] = None,
    script_alias: Annotated[Path | None, typer.Option("--policy", hidden=True, help="Old name of --script.")] = None,
    cassette: Annotated[Path | None, typer.Option(help="Judge cassette for record (written) / replay (read).")] = None,
    model_name: Annotated[str, typer.Option(help="The judge's model name.")] = "claude-sonnet-4-5",
    as_json: Annotated[bool, typer.Option("--json", help="Print the mine report as JSON.")] = False,
) -> None:
    """Turn harvested sessions into a replayable suite at each session's start commit."""
    from harness.harvest import HarvestStore
    from harness.mine import MineOptions
    from harness.mine import mine as run_mine
    from harness.mine.writer import write_suite

    if judge not in ("none", "rubric"):
        raise ConfigError(f"--judge {judge!r} is not one of none, rubric")
    if source not in ("claude", "codex", "auto"):
        raise ConfigError(f"--source {source!r} is not one of claude, codex, auto")
    skill_name, variants = None, None
    if target_skill is not None:
        skill_name, folder = _skill(target_skill)
        variants = {"baseline": str(folder)}
    proj = str(project.expanduser().resolve()) if project else ""
    root = (runs_dir or default_runs_root()).resolve()
    if not (root / "harness.db").is_file():
        raise ConfigError(f"no harvest store at {root / 'harness.db'}",
                          hint="run `harness harvest` first, with the same --runs-dir")
    with HarvestStore(root / "harness.db") as store:
        digests = store.digests(project=proj or None, agent=None if source == "auto" else source)
    if not digests:
        raise ConfigError(f"no harvested sessions{' under ' + proj if proj else ''} in {root}",
                          hint="run `harness harvest --project P` first")
    ids = tuple(x.strip() for f in frozen or [] for x in f.split(",") if x.strip())
    opts = MineOptions(threshold=threshold, min_occurrences=min_occurrences,
                       holdout_fraction=holdout_fraction, seed=seed, frozen=ids,
                       target_skill=skill_name, allow_no_repo=allow_no_repo, max_tasks=max_tasks)
    rep, built = run_mine(digests, opts, project=proj)
    if judge == "rubric" and built:
        _judge(built, one_of(model_mode, "--model-mode", model_alias, "--model") or "live",
               one_of(script, "--script", script_alias, "--policy"), cassette, model_name)
    out = out.expanduser().resolve()
    write_suite(out, built, rep, name=name or out.name, variants=variants)
    if as_json:
        sys.stdout.write(rep.model_dump_json(by_alias=True, indent=2) + "\n")
        return
    console.print(f"mined {len(rep.tasks)} task(s) from {rep.digests} session(s) in {rep.groups} "
                  f"intent(s) ({rep.recurring_groups} recurring) → {out}", soft_wrap=True)
    for t in rep.tasks:
        console.print(f"  {t.id} [{t.split}] {'recurring' if t.recurring else 'once'} · "
                      f"{', '.join(c + (' (model-written)' if c in t.model_checks else '') for c in t.checks)} · oracle {'yes' if t.oracle else 'no'} · "
                      f"from {', '.join(t.sessions)}", soft_wrap=True, markup=False)
    for d in rep.dropped:
        console.print(f"  dropped {', '.join(d.sessions)}: {d.reason}", soft_wrap=True, markup=False)
    console.print("the suite is unreviewed: read its tasks, then set `reviewed: true` in "
                  "suite.yaml (record/live runs refuse it until then)", soft_wrap=True)
