"""The demo suite end to end, with the real claude, codex, gemini, qwen, opencode and aider
CLIs in containers (aider reaches the tests' result within the turn through the harness's
continue messages: the same policy serves it).

The deficient live skill lets the (scripted) model ship a plausible but wrong fix; the
candidate makes it run the tests and fix what still fails. Every candidate trial must pass,
every baseline trial fail on its tests, and the gate must accept, with the evidence on disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.runner.conftest import DEMO, harness_cli, summary

pytestmark = [pytest.mark.docker, pytest.mark.agents, pytest.mark.slow]


@pytest.fixture(scope="module",
                params=["claude", "codex", "gemini", "qwen", "opencode", "aider"])
def demo_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             docker_client: Any) -> tuple[str, dict[str, Any], Path]:
    runs = tmp_path_factory.mktemp(f"runs-{request.param}")
    r = harness_cli("run", str(DEMO), "--agent", request.param, "--runs-dir", str(runs), "--gate",
                    "--gate-policy", str(DEMO / "gate.yaml"), "-j", "2", "--json")
    s = summary(r)
    assert r.returncode == 0, f"gate exit {r.returncode}: {s['reasons']}\n{r.stderr[-3000:]}"
    return request.param, s, Path(s["run_dir"])


def test_candidate_passes_baseline_fails_gate_accepts(demo_run: tuple[str, dict[str, Any], Path]) -> None:
    agent, s, _ = demo_run
    by = {(t["task"], t["variant"]): t for t in s["trials"]}
    assert len(by) == 10
    for (task, variant), t in by.items():
        want = "passed" if variant == "candidate" else "failed"
        assert t["status"] == want, f"{agent} {task}/{variant}: {t['status']} ({t['reason']})"
        if variant == "baseline":
            assert "tests pass" in t["reason"]  # failed on its tests, not on machinery
    assert s["decision"] == "accept"


def test_evidence_is_on_disk(demo_run: tuple[str, dict[str, Any], Path]) -> None:
    agent, _, run_dir = demo_run
    trial = run_dir / "fix-median" / "candidate" / "0"
    pane = (trial / "pane.txt").read_text()
    assert "median([1, 2, 3, 4])" in pane.replace("\n", " ")
    cast = (trial / "session.cast").read_text().splitlines()
    assert json.loads(cast[0])["version"] == 2 and len(cast) > 5
    episode = json.loads((trial / "episode.json").read_text())
    assert episode["agent"] == agent and len(episode["turns"]) == 1
    shells = [c for t in episode["turns"] for c in t["tool_calls"]]
    assert any("pytest" in json.dumps(c["input"]) for c in shells), shells
    assert "textstats.py" in (trial / "diff.patch").read_text()
    assert (trial / "transcript.jsonl").stat().st_size > 0
    result = json.loads((trial / "result.json").read_text())
    assert result["record"]["status"] == "passed" and result["extra"]["turns"][0]["how"] == "signal"
    for name in ("report.md", "report.json", "report.html", "junit.xml"):
        assert (run_dir / "report" / name).stat().st_size > 0
    baseline_diff = (run_dir / "fix-median" / "baseline" / "0" / "diff.patch").read_text()
    assert "textstats.py" in baseline_diff and "tests/" not in baseline_diff
