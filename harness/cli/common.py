"""What the CLI's commands share: the runs folder option and naming a run.

Every command that takes a run accepts its id (looked up under ``--runs-dir``) or its
folder (wherever it is; its parent is then the runs root), so a path pasted from a
summary works as well as an id from ``harness runs``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from harness.errors import ConfigError, HarnessError, ValidationFailed
from harness.runner.paths import RunPaths, default_runs_root
from harness.runner.store import Store

RunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="Where runs live [./runs or $HARNESS_RUNS_DIR].")]
RUN_HELP = "Run id or run folder (default: the latest)."
EXIT_ERROR = 2
F = TypeVar("F", bound=Callable[..., Any])


def errors_exit(fn: F) -> F:
    """Turn HarnessError into one stderr line (plus a validation's list) and exit 2, for the
    commands whose own exit codes mean something else (the gate's 1 = reject)."""

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


def open_store(runs_dir: Path | None) -> tuple[Path, Store]:
    root = (runs_dir or default_runs_root()).resolve()
    return root, Store(root / "harness.db")


def run_folder(ref: str) -> Path | None:
    """``ref`` as a run folder when it is one (it holds run.json or trials), else None."""
    p = Path(ref).expanduser()
    if not p.is_dir():
        return None
    paths = RunPaths.of_dir(p)
    return paths.run_dir if paths.config.exists() or paths.trials_file.exists() else None


def resolve_run(ref: str | None, runs_dir: Path | None) -> tuple[RunPaths, Store]:
    """The run named by an id or a folder (None: the newest), with its store; one line
    when there is no such run."""
    folder = run_folder(ref) if ref else None
    if folder is not None:
        paths = RunPaths.of_dir(folder)
        root = (runs_dir.resolve() if runs_dir else paths.root)
        if not (root / "harness.db").is_file():
            raise ConfigError(f"{folder} has no store beside it ({root / 'harness.db'})",
                              hint="pass --runs-dir with the folder that holds harness.db")
        store = Store(root / "harness.db")
        paths = RunPaths(root, folder.name)
    else:
        root, store = open_store(runs_dir)
        run_id = ref or store.latest_run_id()
        if not run_id:
            store.close()
            raise ConfigError(f"no runs in {root}")
        paths = RunPaths(root, run_id)
    if store.run(paths.run_id) is None:
        store.close()
        raise ConfigError(f"no run {paths.run_id} in {paths.root}", hint="see `harness runs`")
    return paths, store


def one_of(new: Any, new_flag: str, old: Any, old_flag: str) -> Any:
    """A renamed flag's value: the new spelling or the old one, never two different values."""
    if new is not None and old is not None and new != old:
        raise ConfigError(f"{new_flag} {new} and {old_flag} {old} disagree",
                          hint=f"{old_flag} is the old name of {new_flag}: pass only {new_flag}")
    return new if new is not None else old
