"""`--keep` keeps every container of the run, those of `infra_error` trials included, and
each trial's timings (warm reuse, sandbox and wall seconds, laps) reach its `result.json`
and the store."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import labels
from tests.runner.conftest import harness_cli, summary

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """`broken-env` runs in an image without tmux (its trials cannot start: infra_error);
    `fine` has nothing to check (the no-op agent passes it)."""
    root = tmp_path / "suite"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "README").write_text("hi\n")
    (root / "notmux").mkdir()
    (root / "notmux" / "Dockerfile").write_text("FROM harness/base\nUSER root\nRUN rm -f /usr/bin/tmux\n")
    (root / "tasks.yaml").write_text(
        "- {schema: harness.task/v1, id: broken-env, prompt: hi, split: heldout, workspace: ws,"
        " dockerfile: notmux/Dockerfile}\n"
        "- {schema: harness.task/v1, id: fine, prompt: hi, split: heldout, workspace: ws}\n")
    return root


@pytest.fixture
def run_containers(docker_client: Any) -> Iterator[list[str]]:
    """Run ids whose containers this test removes at the end (it asked to keep them)."""
    ids: list[str] = []
    yield ids
    for run_id in ids:
        for c in docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"}):
            with contextlib.suppress(Exception):
                c.remove(force=True, v=True)


def test_keep_keeps_infra_error_containers_and_timings_are_recorded(
        suite: Path, tmp_path: Path, docker_client: Any, run_containers: list[str]) -> None:
    runs = tmp_path / "runs"
    r = harness_cli("run", str(suite / "tasks.yaml"), "--agent", "noop", "--variant", "baseline=none",
                    "-k", "2", "-j", "1", "--keep", "--runs-dir", str(runs), "--json")
    s = summary(r)
    run_id = s["run_id"]
    run_containers.append(run_id)
    status = {(t["task"], t["attempt"]): t["status"] for t in s["trials"]}
    assert status == {("broken-env", 0): "infra_error", ("broken-env", 1): "infra_error",
                      ("fine", 0): "passed", ("fine", 1): "passed"}, s["trials"]

    db = sqlite3.connect(runs / "harness.db")
    kept = db.execute("SELECT trial, message FROM events WHERE run_id=? AND kind='kept'", (run_id,)).fetchall()
    names = {msg.split()[1] for _trial, msg in kept}
    by_task = [trial for trial, _msg in kept]
    assert by_task.count("broken-env") >= 2 and by_task.count("fine") == 1, kept  # one per failed try
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}={run_id}"})
    assert {c.name for c in left} == names  # kept through the run's end and the process's exit
    assert all(c.status == "running" for c in left)

    rows = {(t, a): (w, sb, wall, json.loads(tj) if tj else None) for t, a, w, sb, wall, tj in db.execute(
        "SELECT task_id, attempt, warm, sandbox_sec, wall_sec, timing_json FROM trials WHERE run_id=?",
        (run_id,))}
    db.close()
    assert rows[("fine", 0)][0] == 0 and rows[("fine", 1)][0] == 1  # the second reused the first's
    for key, (warm, sandbox_sec, wall_sec, timing) in rows.items():
        extra = json.loads((runs / run_id / key[0] / "baseline" / str(key[1]) / "result.json").read_text())["extra"]
        assert extra["warm"] == bool(warm) and extra["sandbox_sec"] == sandbox_sec, (key, extra)
        assert extra["wall_sec"] == wall_sec and extra["timing"] == timing, (key, extra)
        assert wall_sec >= sandbox_sec >= 0 and isinstance(timing, dict), (key, extra)
    for a in (0, 1):
        assert {"install_and_snapshot", "collect", "checks"} <= set(rows[("fine", a)][3])
