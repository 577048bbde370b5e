"""The start gate (issue 14): at most N CLIs start at once on one machine, the wait is not
the trial's, and a bad ``HARNESS_START_SLOTS`` says what to set."""

from __future__ import annotations

import json
import threading
from itertools import pairwise
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runner.startgate import StartGate, start_slots
from tests.runner.conftest import harness_cli, summary


def test_a_second_start_waits_for_the_first_to_be_ready() -> None:
    gate = StartGate(1)
    first = gate.enter()
    entered = threading.Event()
    got: list[float] = []

    def second() -> None:
        slot = gate.enter()
        got.append(slot.waited)
        entered.set()
        slot.leave()

    th = threading.Thread(target=second)
    th.start()
    assert not entered.wait(0.3)  # held while the first CLI boots
    first.leave()
    first.leave()  # a second leave (the trial's finally) gives nothing back twice
    assert entered.wait(5)
    th.join(5)
    assert got and got[0] >= 0.25
    assert first.left_at >= first.entered_at > 0
    # the one slot is back, and only one: a double release would let two in at once
    held = gate.enter()
    assert held.waited < 0.1
    blocked = threading.Thread(target=lambda: gate.enter().leave())
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()
    held.leave()
    blocked.join(5)
    assert not blocked.is_alive()


def test_no_limit_never_waits() -> None:
    gate = StartGate(0)
    slots = [gate.enter() for _ in range(50)]
    assert all(s.waited == 0.0 for s in slots)


def test_slots_come_from_the_cores_the_env_or_the_levers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_START_SLOTS", raising=False)
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert start_slots() == 6
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    assert start_slots() == 0  # the bench's "before"
    monkeypatch.setenv("HARNESS_START_SLOTS", "3")
    assert start_slots() == 3
    for bad, says in (("two", "not a whole number"), ("-1", "negative")):
        monkeypatch.setenv("HARNESS_START_SLOTS", bad)
        with pytest.raises(ConfigError, match=says) as exc:
            start_slots()
        assert "HARNESS_START_SLOTS" in (exc.value.hint or "")


@pytest.mark.docker
def test_a_run_starts_one_cli_at_a_time_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four shell agents at once with one start slot: no two CLIs were ever starting
    together, each trial says how long it queued, and its duration leaves the queue out."""
    root = tmp_path / "suite"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "README").write_text("hi\n")
    (root / "tasks.yaml").write_text("".join(
        f"- {{schema: harness.task/v1, id: t{i}, prompt: hi, split: heldout, workspace: ws}}\n"
        for i in range(4)))
    runs = tmp_path / "runs"
    monkeypatch.setenv("HARNESS_START_SLOTS", "1")  # the CLI subprocess inherits it
    r = harness_cli("run", str(root / "tasks.yaml"), "--agent", "noop", "--variant", "baseline=none",
                    "-k", "2", "-j", "4", "--runs-dir", str(runs), "--json")
    s = summary(r)
    assert [t["status"] for t in s["trials"]] == ["passed"] * 8, s["trials"]
    spans = []
    for t in s["trials"]:
        res = json.loads((runs / s["run_id"] / t["task"] / "baseline" / str(t["attempt"]) / "result.json").read_text())
        slot, timing = res["extra"]["start_slot"], res["extra"]["timing"]
        assert slot["left_at"] >= slot["entered_at"] and timing["start_queue"] == slot["waited_sec"]
        assert "ready" in timing
        wall = res["extra"]["finished_at"] - res["extra"]["started_at"]
        assert res["record"]["duration_sec"] <= wall - slot["waited_sec"] + 0.05
        spans.append((slot["entered_at"], slot["left_at"]))
    spans.sort()
    overlaps = [(a, b) for a, b in pairwise(spans) if b[0] < a[1] - 0.01]
    assert not overlaps, spans
