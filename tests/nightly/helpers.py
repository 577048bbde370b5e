"""Small projects and configs for the nightly tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.harvest.realcli import ANSWER_FIX, FIX_CMD

ROOT = Path(__file__).resolve().parents[2]

SKILL_OLD = ("---\nname: calc-helper\ndescription: Notes about calc.py.\n---\n"
             "# Calc helper\n\nRead calc.py before you answer.\n")
SKILL_NEW = ("---\nname: calc-fixer\ndescription: Fixes add() in calc.py and runs the tests.\n---\n"
             "# Calc helper\n\nRead calc.py before you answer. When add() is wrong, fix it and "
             "run the tests.\n")

#: the scripted model of the nightly tests and the demo: it fixes add() only when the
#: installed skill is calc-fixer (the candidate), so the live skill fails and the candidate
#: passes
CALC_POLICY = {"version": 1, "title": "nightly", "rules": [
    {"name": "fix", "match": {"skill": "calc-fixer", "user": "returns the wrong result", "step": 0},
     "reply": {"calls": [{"shell": FIX_CMD, "description": "fix add and run the tests"}]}},
    {"name": "done", "match": {"user": "returns the wrong result", "step": 1},
     "reply": {"text": ANSWER_FIX}},
    {"name": "show", "match": {"user": "deploy.env holds"}, "reply": {"text": "Keys."}},
], "default": {"text": "I read calc.py; nothing to change."}}
#: the gate loosened for one task and one attempt (a 70% interval), to keep nights short
LOOSE_GATE = {"min_heldout_tasks": 1, "confidence": 0.7, "max_token_ratio": None,
              "max_time_ratio": None}


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
