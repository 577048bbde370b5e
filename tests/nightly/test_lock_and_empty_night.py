"""One night per project at a time (a second is refused in one line; a dead night's lock is
taken over, with a message), and a night with no session to harvest ends `nothing_to_do`,
exit 0, recorded, with the live skill untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from harness.nightly.lock import NightLock, NightRunning
from harness.nightly.records import NightStore
from tests.nightly.helpers import ROOT, SKILL_OLD, nightly_cli, write_config, write_skill

HOLDER = """
import sys, time
from pathlib import Path

import yaml
from harness.nightly.lock import NightLock
NightLock(Path(sys.argv[1]), Path(sys.argv[2])).acquire()
print("held", flush=True)
time.sleep(600)
"""


def _holder(runs: Path, project: Path) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(runs), str(project)], cwd=ROOT,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    proj = tmp_path / "proj"
    write_skill(proj, SKILL_OLD)
    (tmp_path / "script.yaml").write_text("version: 1\nrules: []\n")
    for home in ("claude-home", "codex-home"):
        (tmp_path / home).mkdir()
    cfg = write_config(tmp_path / "nightly.yaml", project="proj", targets=[".claude/skills/calc"],
                       model={"mode": "scripted", "script": "script.yaml"},
                       sources={"claude_home": "claude-home", "codex_home": "codex-home"},
                       runs_dir="runs", adopt="auto")
    return proj, cfg, tmp_path / "runs"


def test_a_second_night_is_refused_while_one_runs(tmp_path: Path) -> None:
    proj, cfg, runs = _setup(tmp_path)
    p = _holder(runs, proj.resolve())
    try:
        try:
            NightLock(runs, proj.resolve()).acquire()
            raise AssertionError("a second lock was granted")
        except NightRunning as exc:
            assert f"in process {p.pid}" in exc.one_line()
        r = nightly_cli("--config", str(cfg))
        assert r.returncode == 2
        [line] = r.stderr.strip().splitlines()
        assert line.startswith(f"error: a night of {proj.resolve()} is already running in "
                               f"process {p.pid}"), line
        # refused before anything ran: no night recorded
        with NightStore(runs / "harness.db") as store:
            assert store.nights() == []
    finally:
        p.kill()
        p.wait(timeout=30)


def test_a_dead_nights_lock_is_taken_over_and_an_empty_night_is_recorded(tmp_path: Path) -> None:
    proj, cfg, runs = _setup(tmp_path)
    live = (proj / ".claude/skills/calc/SKILL.md").read_bytes()
    p = _holder(runs, proj.resolve())
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    r = nightly_cli("--config", str(cfg), "--json")
    assert r.returncode == 0, r.stderr
    assert f"took over the night lock of {proj.resolve()} from process {p.pid}" in r.stderr
    rec = json.loads(r.stdout)
    assert (rec["status"], rec["verdict"], rec["harvested"]) == (
        "nothing_to_do", "nothing_to_do", 0)
    assert rec["message"].startswith("nothing to do: no new session")
    with NightStore(runs / "harness.db") as store:
        [stored] = store.nights(str(proj.resolve()))
        assert stored.night_id == rec["night_id"] and stored.status == "nothing_to_do"
        assert [s["stage"] for s in store.stage_rows(stored.night_id)] == ["harvest"]
    assert (proj / ".claude/skills/calc/SKILL.md").read_bytes() == live
    # the lock was released at the end: the next night starts at once, and is not a take-over
    r2 = nightly_cli("--config", str(cfg))
    assert r2.returncode == 0 and "took over" not in r2.stderr, r2.stderr
    assert "nothing_to_do" in r2.stderr
    # nothing unfinished to resume
    r3 = nightly_cli("--config", str(cfg), "--resume")
    assert r3.returncode == 2 and "no unfinished night" in r3.stderr


def test_a_spent_wall_budget_stops_the_night_and_resume_finishes_it(tmp_path: Path) -> None:
    proj, cfg, runs = _setup(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    write_config(cfg, **(data | {"budgets": {"wall_minutes": 1e-9}}))
    r = nightly_cli("--config", str(cfg), "--json")
    assert r.returncode == 3, r.stderr
    rec = json.loads(r.stdout)
    assert rec["status"] == "interrupted"
    assert rec["message"] == "stopped before harvest: wall budget of 1e-09 min spent"
    write_config(cfg, **data)
    r = nightly_cli("--config", str(cfg), "--json", "--resume")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert again["night_id"] == rec["night_id"] and again["status"] == "nothing_to_do"
