"""Pure pieces of fault blame: the infra backoff, which trials --resume runs again, the
artifact list of a trial that left only some files, and the claude permission menu."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from controllers.profiles.claude import SPEC as CLAUDE
from harness.runner.faults import existing_artifacts
from harness.runner.paths import RunPaths
from harness.runner.run import RunOptions, backoff_sec
from harness.runner.store import Store

SCREENS = Path(__file__).resolve().parents[1] / "agents" / "screens"


def test_backoff_doubles_and_outlasts_an_engine_restart() -> None:
    o = RunOptions(agent="claude", variants=[])
    waits = [backoff_sec(a, o.infra_retries, o.infra_backoff_sec) for a in range(1, o.infra_retries + 1)]
    assert waits == sorted(waits) and all(b == pytest.approx(2 * a) for a, b in pairwise(waits))
    assert sum(waits) == pytest.approx(o.infra_backoff_sec)
    assert waits[0] > 1.0 and sum(waits[:3]) > 6.0  # a 6 s dockerd restart is outlasted early
    assert backoff_sec(1, 0, 30) == 0.0 and backoff_sec(1, 3, 0) == 0.0


def test_resume_runs_infra_errors_again_and_the_new_row_replaces_the_old(tmp_path: Path) -> None:
    def row(task: str, status: str) -> dict:
        return {"task_id": task, "variant": "baseline", "attempt": 0, "status": status,
                "split": "heldout", "reason": status, "checks": []}

    with Store(tmp_path / "h.db") as s:
        s.create_run("r", suite="s", agent="claude", model_mode="scripted", config={})
        for i, st in enumerate(("passed", "failed", "timeout", "agent_error", "infra_error")):
            s.record_trial("r", row(f"t{i}", st))
        assert s.completed_keys("r") == {(f"t{i}", "baseline", 0) for i in range(4)}
        s.record_trial("r", row("t4", "passed"))  # the re-run, under the same key
        assert ("t4", "baseline", 0) in s.completed_keys("r")
        assert [t["status"] for t in s.trials("r") if t["task_id"] == "t4"] == ["passed"]


def test_result_lists_only_artifacts_that_exist(tmp_path: Path) -> None:
    tp = RunPaths(tmp_path, "r").trial("t", "baseline", 0)
    tp.dir.mkdir(parents=True)
    tp.pane.write_text("screen")
    tp.cast.write_text("{}")
    a = existing_artifacts(tp, "t/baseline/0")
    assert (a.pane, a.cast, a.transcript, a.diff) == ("pane.txt", "session.cast", None, None)


def test_permission_menu_is_blocked_with_its_question() -> None:
    st = CLAUDE.classify((SCREENS / "claude_dangerous_rm.txt").read_text())
    assert st.kind.value == "blocked"
    assert "Dangerous rm operation" in st.detail and "Do you want to proceed?" in st.detail, st.detail
