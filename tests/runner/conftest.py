"""Helpers for runner tests: run the real `harness` CLI in a subprocess, read its store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tasks" / "examples"


def harness_cli(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def summary(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert line, f"no JSON summary (rc={r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return json.loads(line[-1])
