"""Real nights, as a user runs them: sessions the real claude and codex CLIs wrote are
harvested and mined, the real claude CLI replays the mined task in containers against the
scripted Gateway, the gate decides, and the live skill changes only by adopt or rollback.

The scripted model fixes the bug only when the installed skill is ``calc-fixer`` (its
``skill`` match), so the candidate that brings that skill wins and the old one loses; the
gate policy is loosened (one task, one attempt, 70% interval) to keep the trials few.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.staging import adopt, load_manifest, stage
from harness.nightly.config import load_config
from harness.nightly.night import run_night
from harness.nightly.records import NightRecord, NightStore
from harness.runner.store import Store
from tests.harvest.realcli import Generated
from tests.nightly.helpers import (
    CALC_POLICY,
    LOOSE_GATE,
    ROOT,
    SKILL_NEW,
    SKILL_OLD,
    nightly_cli,
    write_config,
    write_skill,
)

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]
SKILL_REL = ".claude/skills/calc/SKILL.md"
POLICY, GATE = CALC_POLICY, LOOSE_GATE


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _project(gen: Generated, tmp_path: Path, live_skill: str, policy: dict[str, Any] = POLICY,
             **cfg: Any) -> tuple[Path, Path]:
    lay = gen.install(tmp_path)
    write_skill(lay.repo, live_skill)
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    fields: dict[str, Any] = dict(
        project=str(lay.repo), targets=[".claude/skills/calc"],
        sources={"claude_home": str(lay.claude_home), "codex_home": str(lay.codex_home)},
        agents=["claude"], trials=1, concurrency=2,
        model={"mode": "scripted", "script": "policy.yaml"},
        budgets={"tokens": 5_000_000, "wall_minutes": 60}, gate_policy=GATE,
        mine={"holdout_fraction": 1.0}, runs_dir="runs")
    f = write_config(tmp_path / "nightly.yaml", **(fields | cfg))
    return lay.repo, f


def _slow_answers(policy: dict[str, Any], sec: float) -> dict[str, Any]:
    """``policy`` with every final answer to the mined task held ``sec`` seconds (the
    baseline's default answer made a rule for it), so a trial lasts long enough for a test
    polling every half second to catch the run between its two trials."""
    rules = []
    for r in policy["rules"]:
        rules.append({**r, "fault": {"latency_sec": sec}} if r["name"] == "done" else dict(r))
        if r["name"] == "done":
            rules.append({"name": "baseline", "match": {"user": r["match"]["user"]},
                          "fault": {"latency_sec": sec}, "reply": dict(policy["default"])})
    return {**policy, "rules": rules}


class Killed(Exception):
    pass


FROZEN_TASK = {"schema": "harness.task/v1", "id": "say-what-changed", "split": "frozen",
               "prompt": "Tell me whether calc.py needs a change.", "timeout_sec": 180,
               "checks": [{"op": "contains", "value": "nothing to change"}]}


def test_a_night_killed_after_replay_resumes_gates_stages_and_adopts(
        cli_sessions: Generated, tmp_path: Path) -> None:
    cand = tmp_path / "cand"
    write_skill(cand, SKILL_NEW)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    (frozen / "say.yaml").write_text(yaml.safe_dump(FROZEN_TASK, sort_keys=False))
    proj, f = _project(cli_sessions, tmp_path, SKILL_OLD, adopt="auto",
                       candidates={"folders": [str(cand)]}, frozen_suite=str(frozen))
    live = proj / SKILL_REL
    before = _sha(live)
    cfg = load_config(f)
    runs = tmp_path / "runs"

    def kill_after_replay(stage: str) -> None:
        if stage == "replay":
            assert _sha(live) == before  # nothing before adopt writes the live files
            raise Killed(stage)

    with pytest.raises(Killed):
        run_night(cfg, after_stage=kill_after_replay)
    with NightStore(runs / "harness.db") as store:
        [night] = store.nights()
        assert night.status == "running"  # as a SIGKILL between stages leaves it
        rows_before = {r["stage"]: r for r in store.stage_rows(night.night_id)}
    assert list(rows_before) == ["harvest", "mine", "propose", "replay"]
    assert all(r["status"] == "done" for r in rows_before.values())
    runs_by_job = rows_before["replay"]["output"]["runs"]
    assert list(runs_by_job) == ["claude:mined", "claude:frozen"]
    run_ids = list(runs_by_job.values())

    r = nightly_cli("--config", str(f), "--resume", "--json", timeout=1800)
    assert r.returncode == 0, r.stderr
    rec = NightRecord.model_validate_json(r.stdout)
    assert rec.night_id == night.night_id and rec.status == "done", rec
    assert "done earlier" in r.stderr  # the finished stages were skipped, and said so
    with NightStore(runs / "harness.db") as store:
        rows = {r["stage"]: r for r in store.stage_rows(rec.night_id)}
    assert list(rows) == ["harvest", "mine", "propose", "replay", "watch", "gate", "stage", "adopt"]
    for s in ("harvest", "mine", "propose", "replay"):  # not redone: same rows, same times
        assert rows[s] == rows_before[s]
    with Store(runs / "harness.db") as st:  # no other run was started
        assert sorted(x["id"] for x in st.runs()) == sorted(run_ids)
    # the record, filled
    assert (rec.harvested, rec.mined, rec.replayed, rec.run_ids) == (4, 1, 4, run_ids)
    [c] = rec.candidates
    assert (c.source, c.verdict) == ("folder", "accept") and "lift rule" in c.reason
    assert rec.verdict == "accept" and "lift rule" in rec.decision
    assert rec.scores[c.name] > rec.scores["baseline"]
    # the frozen task passed for both (no regression), the mined one only for the candidate
    assert rec.pass_rates == {"baseline": 0.5, c.name: 1.0}
    report = json.loads((runs / "nightly" / rec.night_id / "report" / "report.json").read_text())["decision"]
    frozen_rows = [t for t in report["candidates"][0]["tasks"] if t["split"] == "frozen"]
    assert [t["task_id"] for t in frozen_rows] == ["frozen/say-what-changed"]
    assert rec.tokens > 0 and set(rec.tokens_per_trial) == {"baseline", c.name}
    assert c.name in rec.steps_to_green and rec.wall_s > 0
    # staged, then adopted: the live skill is the candidate's now, and only it changed
    assert rec.staged and rec.adopted == rec.staged
    [sd] = [p for p in Path(rec.staged).iterdir() if (p / "manifest.json").is_file()]
    assert load_manifest(sd).state == "adopted"
    assert live.read_text() == SKILL_NEW and (sd / "backup" / "SKILL.md").read_text() == SKILL_OLD


def test_watch_rolls_back_a_worse_adopted_skill(cli_sessions: Generated, tmp_path: Path) -> None:
    """A worse skill slipped in (adopted by hand, recorded as a night's adopt): the next
    night replays it against the version it replaced, rolls it back, and stages nothing."""
    proj, f = _project(cli_sessions, tmp_path, SKILL_NEW)
    live = proj / SKILL_REL
    good = _sha(live)
    runs = tmp_path / "runs"
    bad = tmp_path / "bad"
    write_skill(bad, SKILL_OLD)
    stage_root = runs / "nightly" / "n-earlier" / "stage"
    stage(run_id="by-hand", candidate="bad", candidate_dir=bad / ".claude/skills/calc",
          live_root=proj / ".claude/skills/calc", stage_dir=stage_root / "00-calc")
    adopt(stage_root / "00-calc")
    assert live.read_text() == SKILL_OLD
    with NightStore(runs / "harness.db") as store:
        store.save(NightRecord(night_id="n-earlier", project=str(proj), started_at=time.time() - 60,
                               ended_at=time.time() - 30, status="done", verdict="accept",
                               staged=str(stage_root), adopted=str(stage_root)))

    r = nightly_cli("--config", str(f), "--json", timeout=1800)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["status"], rec["verdict"]) == ("done", "rolled_back"), rec
    assert rec["rolled_back"] == str(stage_root) and rec["staged"] is None
    assert "rolled back the skill adopted on n-earlier" in rec["decision"]
    assert "lift rule" in rec["decision"]
    assert rec["scores"]["previous"] > rec["scores"]["adopted"]
    assert _sha(live) == good  # the version it replaced is live again
    assert load_manifest(stage_root / "00-calc").state == "rolled_back"
    with NightStore(runs / "harness.db") as store:
        rows = {r["stage"]: r["output"] for r in store.stage_rows(rec["night_id"])}
    assert rows["watch"]["rolled_back"] is True and rows["watch"]["watched"] == "the skill adopted on n-earlier"
    assert "nothing new is staged" in rows["stage"]["summary"]


def test_a_night_killed_mid_replay_resumes_its_run(cli_sessions: Generated, tmp_path: Path,
                                                   docker_client: Any) -> None:
    """SIGKILL while the replay run is half done: ``--resume`` finishes that same run (its
    finished trial kept, not re-run), sweeps the killed one's containers, and the night ends."""
    from harness import labels

    cand = tmp_path / "cand"
    write_skill(cand, SKILL_NEW)
    # the answers wait 8 s: on a quiet machine the second trial could otherwise end within
    # one poll of the first, and the night with it, before the kill
    proj, f = _project(cli_sessions, tmp_path, SKILL_OLD, _slow_answers(POLICY, 8.0),
                       concurrency=1, candidates={"folders": [str(cand)]})
    runs = tmp_path / "runs"
    log = (tmp_path / "night.log").open("w")
    p = subprocess.Popen([sys.executable, "-m", "harness.cli", "nightly", "--config", str(f)],
                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    run_id, done = None, set()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and not done:
            time.sleep(0.5)
            assert p.poll() is None, (tmp_path / "night.log").read_text()[-3000:]
            if (runs / "harness.db").exists():
                with NightStore(runs / "harness.db") as ns:
                    nights = ns.nights()
                    part = ns.stage_partial(nights[0].night_id, "replay") if nights else None
                run_id = part[0].get("runs", {}).get("claude:mined") if part else None
                if run_id:
                    with Store(runs / "harness.db") as st:
                        done = st.completed_keys(run_id)
    finally:  # the night may have ended by itself: its failure above is the one to show
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        log.close()
    assert run_id and len(done) == 1, "the night was not caught half-way through its replay"
    [key] = done
    first = json.loads((runs / run_id / key[0] / key[1] / str(key[2]) / "result.json").read_text())

    r = nightly_cli("--config", str(f), "--resume", "--json", timeout=1800)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["status"] == "done" and rec["run_ids"] == [run_id], rec
    assert f"resuming run {run_id}" in r.stderr
    again = json.loads((runs / run_id / key[0] / key[1] / str(key[2]) / "result.json").read_text())
    assert again["extra"]["finished_at"] == first["extra"]["finished_at"]  # not re-run
    assert rec["replayed"] == 2 and rec["verdict"] == "accept"
    assert rec["staged"] and rec["adopted"] is None  # adopt: stage (the default)
    assert (proj / SKILL_REL).read_text() == SKILL_OLD
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})
    assert left == [], [c.name for c in left]
