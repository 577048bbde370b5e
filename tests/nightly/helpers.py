"""Small projects and configs for the nightly tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

SKILL_OLD = ("---\nname: calc-helper\ndescription: Notes about calc.py.\n---\n"
             "# Calc helper\n\nRead calc.py before you answer.\n")
SKILL_NEW = ("---\nname: calc-fixer\ndescription: Fixes add() in calc.py and runs the tests.\n---\n"
             "# Calc helper\n\nRead calc.py before you answer. When add() is wrong, fix it and "
             "run the tests.\n")


def write_skill(root: Path, text: str, rel: str = ".claude/skills/calc") -> Path:
    d = root / rel
    d.mkdir(parents=True, exist_ok=True)
    (d / "SKILL.md").write_text(text)
    return d


def write_config(path: Path, **fields: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def nightly_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``harness nightly ARGS`` as a user (or cron) runs it."""
    return subprocess.run([sys.executable, "-m", "harness.cli", "nightly", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
