"""Whole runs keep the whole pane: what the agent printed is in ``pane.txt`` after it erased
its terminal (the oracle agent in a real container), and a 5,000-line answer of the real
claude CLI is there to its last line with the prompt back under it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.runner.conftest import harness_cli, summary

N = 5000
#: the oracle's script: numbered lines, and every way to erase a terminal between them
WIPING = "\n".join([
    "seq -f 'num %05g' 1 2000", r"printf '\033[2J'", "seq -f 'num %05g' 2001 3000", "clear",
    "seq -f 'num %05g' 3001 4000", r"printf '\033c'", f"seq -f 'num %05g' 4001 {N}",
    r"printf '\033[H\033[2J\033[3J'", ""])


def _missing(text: str, fmt: str) -> list[int]:
    lines = {ln.strip().removeprefix("● ") for ln in text.split("\n")}  # claude's answer bullet
    return [i for i in range(1, N + 1) if fmt.format(i) not in lines]


@pytest.mark.docker
@pytest.mark.slow
def test_the_oracle_erasing_its_terminal_loses_nothing(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    (suite / "ws").mkdir(parents=True)
    (suite / "ws" / "README").write_text("hi\n")
    (suite / "solve.sh").write_text(WIPING)
    (suite / "task.yaml").write_text("schema: harness.task/v1\nid: wipe\nprompt: print\nsplit: heldout\n"
                                     "workspace: ws\noracle: solve.sh\n")
    s = summary(harness_cli("run", str(suite / "task.yaml"), "--agent", "oracle", "--variant", "baseline=none",
                            "--runs-dir", str(tmp_path / "runs"), "--json"))
    assert [t["status"] for t in s["trials"]] == ["passed"], s
    trial = Path(s["run_dir"]) / "wipe" / "baseline" / "0"
    text = (trial / "pane.txt").read_text()
    gone = _missing(text, "num {:05d}")
    assert gone == [], f"{len(gone)} lines lost, e.g. {gone[:5]}"
    assert "bash /harness/oracle.sh" in text
    pane = json.loads((trial / "result.json").read_text())["extra"]["pane"]
    assert pane["source"] == "cast" and pane["wipes"] >= 2, pane


@pytest.mark.docker
@pytest.mark.agents
@pytest.mark.slow
def test_a_5000_line_answer_of_claude_is_whole_in_pane_txt(tmp_path: Path) -> None:
    """The scripted model answers 5,000 numbered lines; three trials, two at a time (load
    makes a capture taken before claude finished drawing likelier): each pane holds every
    line, then claude's idle prompt."""
    suite = tmp_path / "suite"
    suite.mkdir()
    answer = "\n".join(f"answer line {i:05d} of {N}" for i in range(1, N + 1))
    policy = {"version": 1, "rules": [{"name": "long", "match": {"user": "long answer"}, "reply": {"text": answer}}]}
    (suite / "policy.yaml").write_text(yaml.safe_dump(policy, width=1000))
    (suite / "task.yaml").write_text(yaml.safe_dump({
        "schema": "harness.task/v1", "id": "long-answer", "prompt": "Please give the long answer.",
        "split": "heldout", "timeout_sec": 300, "policy": "policy.yaml",
        "checks": [{"op": "contains", "value": f"answer line {N:05d} of {N}"}]}))
    s = summary(harness_cli("run", str(suite / "task.yaml"), "--agent", "claude", "--variant", "baseline=none",
                            "-k", "3", "-j", "2", "--runs-dir", str(tmp_path / "runs"), "--json"))
    assert [t["status"] for t in s["trials"]] == ["passed"] * 3, s
    for attempt in range(3):
        trial = Path(s["run_dir"]) / "long-answer" / "baseline" / str(attempt)
        text = (trial / "pane.txt").read_text()
        gone = _missing(text, "answer line {:05d} of " + str(N))
        assert gone == [], f"trial {attempt}: {len(gone)} lines missing, e.g. {gone[:5]}\n{text[-1500:]}"
        tail = text[text.index(f"answer line {N:05d} of {N}"):]
        assert "❯" in tail, tail  # the prompt was back when the pane was taken
        pane = json.loads((trial / "result.json").read_text())["extra"]["pane"]
        assert pane["settled"] is True and pane["source"] == "tmux", pane
