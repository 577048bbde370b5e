"""Writing a mined suite: ``suite.yaml`` (``reviewed: false``), one folder per task with its
``task.yaml`` and ``oracle.sh``, and ``mine-report.json`` (what became of every session).

Why refuse a folder that is not a mined suite: re-mining replaces ``tasks/`` wholesale (a
nightly run), which must never delete a hand-written suite the user pointed ``--out`` at.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.mine.run import Built, MineReport

REPORT_FILE = "mine-report.json"


def write_suite(out: Path, built: list[Built], rep: MineReport, *, name: str,
                variants: dict[str, str] | None = None) -> None:
    """Write (or re-write) the mined suite at ``out``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file", hint="give a folder for the mined suite")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_FILE).is_file():
        raise ConfigError(f"--out {out} holds files and is not a mined suite",
                          hint="give an empty or new folder; re-mining replaces a mined suite's tasks")
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "tasks", ignore_errors=True)
    suite: dict[str, Any] = {
        "schema": "harness.suite/v1",
        "name": name,
        "description": (f"Mined from {rep.digests} session digest(s) of {rep.project or 'all projects'}"
                        f" on {rep.at:%Y-%m-%d %H:%M} UTC. Read the tasks, then set reviewed: true."),
        "reviewed": False,
        "include": ["tasks/*/task.yaml"],
    }
    if variants:
        suite["variants"] = variants
    (out / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True))
    for b in built:
        d = out / "tasks" / b.data["id"]
        d.mkdir(parents=True)
        (d / "task.yaml").write_text(yaml.safe_dump(b.data, sort_keys=False, allow_unicode=True,
                                                    width=100))
        if b.oracle is not None:
            (d / "oracle.sh").write_text(b.oracle)
            (d / "oracle.sh").chmod(0o755)
    (out / REPORT_FILE).write_text(rep.model_dump_json(by_alias=True, indent=2) + "\n")
