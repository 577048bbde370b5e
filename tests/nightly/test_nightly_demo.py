"""The nightly loop's offline demo (issue 13 item 7) runs in CI with the real claude CLI:
night 1 harvests sessions the real CLIs wrote, mines a task, the scripted proposer writes a
candidate, the gate accepts and it is adopted; a worse skill is adopted by hand and night 2's
watch rolls it back. The script's last line is the JSON summary the README promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_nightly_demo_adopts_then_rolls_back(docker_client: object, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "nightly_demo.py"),
                        "--workdir", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=2400, check=False)
    assert r.returncode == 0, r.stderr[-4000:]
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(last) == {"night1_verdict", "night1_adopted", "night2_rolled_back",
                         "tasks_mined", "trials", "wall_s"}
    assert last["night1_verdict"] == "accept", r.stderr[-4000:]
    assert last["night1_adopted"] is True
    assert last["night2_rolled_back"] is True, r.stderr[-4000:]
    assert last["tasks_mined"] >= 1 and last["trials"] >= 4
    assert "watching the skill adopted by hand" in r.stderr, r.stderr[-4000:]
