"""A Terminal-Bench task folder, imported, run in its own image: the oracle typed into the
pane passes the task's tests; a no-op run fails them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.runner.conftest import REPO, harness_cli, summary

pytestmark = [pytest.mark.docker, pytest.mark.slow]
FIXTURE = REPO / "tasks" / "fixtures" / "terminal-bench" / "hello-file"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Path:
    dest = tmp_path_factory.mktemp("tb") / "suite"
    r = harness_cli("tasks", "import", "terminal-bench", str(FIXTURE), str(dest), "--offline-tests")
    assert r.returncode == 0, r.stderr
    return dest


@pytest.mark.parametrize(("agent", "status"), [("oracle", "passed"), ("noop", "failed")])
def test_oracle_passes_noop_fails(suite: Path, tmp_path: Path, agent: str, status: str) -> None:
    r = harness_cli("run", str(suite), "--agent", agent, "--variant", "baseline=none",
                    "--runs-dir", str(tmp_path), "--json")
    s = summary(r)
    assert [t["status"] for t in s["trials"]] == [status], s
    if agent == "oracle":
        pane = (Path(s["run_dir"]) / "hello-file" / "baseline" / "0" / "pane.txt").read_text()
        assert "bash /harness/oracle.sh" in pane  # typed into the pane, as a person would
    else:
        assert "2 failed" in s["trials"][0]["reason"]
