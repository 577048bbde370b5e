"""``harness nightly schedule | unschedule | status | report``: the nightly's operations side.

A typer app of its own; the main CLI mounts its commands under ``harness nightly`` beside the
night itself (``nightly_cmd``). Errors print as one line and exit 2, like the gate's commands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from harness.cli.common import RunsDir, errors_exit
from harness.errors import ConfigError
from harness.nightly import schedule as sched
from harness.nightly.history import write_report
from harness.nightly.records import NightStore
from harness.runner.paths import default_runs_root

app = typer.Typer(help="Schedule the nightly, see its status, write its history.",
                  no_args_is_help=True, add_completion=False)

DEFAULT_CONFIG = Path("nightly.yaml")

ProjectOpt = Annotated[
    str | None, typer.Option(help="the project: its folder or folder name (default: the "
                             "config's `project`)")
]
ConfigOpt = Annotated[
    Path | None, typer.Option(help="the night's config file (default: ./nightly.yaml)")
]



def _config_data(config: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the nightly config {config}: {exc.strerror}",
                          hint="pass --config with an existing nightly.yaml") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the nightly config {config} is not YAML: "
                          f"{str(exc).splitlines()[0]}") from exc
    return data if isinstance(data, dict) else {}


def _config_path(config: Path, key: str) -> str | None:
    """A folder the config names (relative to the config's folder), made absolute."""
    value = _config_data(config).get(key)
    if not isinstance(value, str) or not value.strip():
        return None
    return str((config.parent / Path(value.strip()).expanduser()).resolve())


def config_project(config: Path) -> str | None:
    """The project a nightly config names (``project:``, a folder relative to the config, as
    the night keeps it: absolute), or None. Read as plain YAML: validating the whole config is
    the night's job, at night."""
    return _config_path(config, "project")


def match_project(wanted: str, known: list[str]) -> str | None:
    """The recorded project ``wanted`` names: itself, its resolved path, or the one project
    whose folder has that name."""
    if wanted in known:
        return wanted
    path = str(Path(wanted).expanduser().resolve())
    if path in known:
        return path
    by_name = [k for k in known if Path(k).name == Path(wanted).name]
    return by_name[0] if len(by_name) == 1 else None


def _project(project: str | None, config: Path | None, *, must: bool = True) -> str | None:
    if project:
        return project
    path = config or DEFAULT_CONFIG
    if config is None and not path.is_file():
        if must:
            raise ConfigError("no --project and no ./nightly.yaml to read it from",
                              hint="pass --project NAME or --config FILE")
        return None
    found = config_project(path)
    if found is None and must:
        raise ConfigError(f"{path} names no `project`", hint="pass --project NAME")
    return found


@app.command()
@errors_exit
def schedule(
    at: Annotated[str, typer.Option(help="when, HH:MM on a 24-hour clock (the machine's time)")],
    project: ProjectOpt = None,
    config: ConfigOpt = None,
    runs_dir: RunsDir = None,
    print_only: Annotated[bool, typer.Option("--print", help="show what would be installed, "
                                             "install nothing")] = False,
    backend: Annotated[str, typer.Option(help="auto (systemd user timer where systemd runs, "
                                         "else cron), systemd or cron")] = "auto",
) -> None:
    """Run `harness nightly --config F` every night at --at (systemd user timer, else cron).

    Replaces the project's earlier entry; --print shows it and installs nothing."""
    hour, minute = sched.parse_at(at)
    cfg = (config or DEFAULT_CONFIG).expanduser().absolute()
    if not cfg.is_file():
        raise ConfigError(f"nightly config {cfg} does not exist",
                          hint="pass --config with the file `harness nightly` should run")
    name = _project(project, cfg)
    assert name is not None
    cfg_runs = _config_path(cfg, "runs_dir")
    cmd = sched.night_command(name, cfg, runs_dir, cwd=Path.cwd(),
                              config_runs_dir=Path(cfg_runs) if cfg_runs else None)
    if print_only:
        chosen = backend if backend != "auto" else ("systemd" if sched.systemd_works() else "cron")
        typer.echo(f"# runs every night at {hour:02d}:{minute:02d}, output appended to {cmd.log}")
        if chosen == "systemd":
            folder = sched.unit_dir()
            for fname, text in sched.unit_files(cmd, hour, minute).items():
                typer.echo(f"# --- {folder / fname}\n{text}")
        else:
            typer.echo(sched.cron_line(cmd, hour, minute))
        return
    where = sched.install(cmd, hour, minute, sched.pick_backend(backend))
    typer.echo(f"scheduled project {cmd.project} every night at {hour:02d}:{minute:02d} in "
               f"{where}; log: {cmd.log}")


@app.command()
@errors_exit
def unschedule(project: ProjectOpt = None, config: ConfigOpt = None) -> None:
    """Remove the project's timer or crontab entry (no other crontab line is touched)."""
    name = _project(project, config, must=False)
    if name is None:
        found = sched.scheduled()
        if len(found) != 1:
            names = ", ".join(sorted({s.project for s in found})) or "none"
            raise ConfigError(f"which project? scheduled here: {names}",
                              hint="pass --project NAME")
        name = found[0].project
    gone = sched.remove(name)
    if not gone:
        raise ConfigError(f"project {sched.project_slug(name)} is not scheduled here",
                          hint="see `harness nightly status`")
    typer.echo(f"unscheduled project {sched.project_slug(name)}: removed {', '.join(gone)}")


@app.command()
@errors_exit
def status(
    runs_dir: RunsDir = None,
    last: Annotated[int, typer.Option(min=1, help="nights to show per project")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Scheduled projects (systemd timers, crontab entries) and each project's last nights."""
    found = sched.scheduled()
    db = (runs_dir or default_runs_root()).resolve() / "harness.db"
    nights: dict[str, list[Any]] = {}
    if db.is_file():
        with NightStore(db) as store:
            for p in store.projects():
                nights[p] = store.nights(p, limit=last)
    if as_json:
        typer.echo(json.dumps({
            "scheduled": [vars(s) for s in found],
            "nights": {p: [n.model_dump(include={"night_id", "started_at", "status", "verdict",
                                                 "decision", "message"}) for n in ns]
                       for p, ns in nights.items()},
        }, indent=2))
        return
    if not found:
        typer.echo("scheduled: nothing (see `harness nightly schedule --help`)")
    for s in found:
        typer.echo(f"scheduled: {s.project} at {s.at} ({s.backend}: {s.where})")
    if not nights:
        typer.echo(f"nights: none recorded in {db}")
    for p, ns in nights.items():
        typer.echo(f"{p}: last {len(ns)} night(s)")
        for n in reversed(ns):
            when = datetime.fromtimestamp(n.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            why = n.decision or n.message
            typer.echo(f"  {when}  {n.night_id}  {n.verdict or n.status}"
                       + (f"  — {why}" if why else ""))


@app.command()
@errors_exit
def report(
    project: Annotated[str | None, typer.Option(help="one project, by folder or folder name "
                                                "(default: all)")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write the page "
                                             "(default: RUNS/history.html)")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Write history.html: trends across nights, verdicts, adopted and rolled-back edits.

    Plots held-out score per variant, pass rate, steps to green, tokens per trial and the
    repeat-error rate; one self-contained page (opens offline)."""
    root = (runs_dir or default_runs_root()).resolve()
    db = root / "harness.db"
    if project is not None:
        known = []
        if db.is_file():
            with NightStore(db) as store:
                known = store.projects()
        found = match_project(project, known)
        if found is None:
            raise ConfigError(f"no nights of project {project!r} in {root}",
                              hint=f"known: {', '.join(known) or 'none'}")
        project = found
    path, count = write_report(db, (out or root / "history.html").absolute(), project)
    typer.echo(f"history: {path} ({count} night(s))")
