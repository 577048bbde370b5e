"""Done-detection on the real CLIs: a text turn, a tool turn, and a tool that is silent for
20 s are each reported done by the hook signal, and never before the tool's side effect
exists. The tool writes the container's clock into the file, so "the file existed when done
was reported" is checked exactly (same kernel clock), not by looking afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_rig import Rig

from harness.runner.evidence import write_pane

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

POLICY = {
    "version": 1,
    "rules": [
        {"name": "write", "match": {"user": "quick file", "step": 0},
         "reply": {"text": "Writing it.",
                   "calls": [{"shell": "date +%s.%N > quick.txt", "description": "write quick.txt"}]}},
        # codex hands a command back to the model as a "background terminal" after its
        # yield time (10 s by default); a model that wants the result asks to wait longer
        {"name": "slow-codex", "match": {"user": "slow file", "step": 0, "api": "openai"},
         "reply": {"text": "This takes a while.",
                   "calls": [{"tool": "exec_command",
                              "input": {"cmd": "sleep 20; date +%s.%N > slow.txt",
                                        "yield_time_ms": 40000}}]}},
        # Qwen Code refuses a command that starts with a foreground `sleep N` (N >= 2) and
        # goes on (it asks for a separate call); a subshell around the sleep is a plain command
        {"name": "slow-qwen", "match": {"user": "slow file", "step": 0, "api": "openai_chat"},
         "reply": {"text": "This takes a while.",
                   "calls": [{"shell": "(sleep 20); date +%s.%N > slow.txt", "description": "slow write"}]}},
        {"name": "slow", "match": {"user": "slow file", "step": 0},
         "reply": {"text": "This takes a while.",
                   "calls": [{"shell": "sleep 20; date +%s.%N > slow.txt",
                              "description": "slow write"}]}},
        {"name": "after-tool", "match": {"tool_result": ""}, "reply": {"text": "File written, all done."}},
        {"name": "hello", "match": {"user": "(?i)hello"}, "reply": {"text": "Hello from the scripted model."}},
    ],
}


def _final_answers(rig: Rig, tid: str) -> list[float]:
    return [e.wall for e in rig.gateway.events if e.trial_id == tid and e.kind == "final_answer"]


def test_text_turn_done_by_signal(fresh: Rig, tmp_path: Path) -> None:
    s = fresh.session(POLICY, name="text")
    out = s.driver.run_turn("hello there", timeout_sec=90)
    assert out.how == "signal", f"{out.how}: {out.detail}\n{out.screen}\n{s.driver.log.dialogs}"
    finals = _final_answers(fresh, s.trial_id)
    assert finals, "the Gateway never sent a final answer"
    assert finals[-1] <= out.done_at, "done reported before the final answer's last byte"
    # the answer is in the pane as a trial records it (settled): opencode's plugin signals
    # from its backend, and on a loaded machine its TUI drew the answer a moment later
    write_pane(s.ctl, fresh.profile.spec, tmp_path / "pane.txt", finished=True)
    pane = (tmp_path / "pane.txt").read_text()
    assert "Hello from the scripted model" in pane, pane[-3000:]


@pytest.mark.parametrize("which,sleep_sec", [("quick", 0.0), ("slow", 20.0)])
def test_tool_turn_done_after_tool(fresh: Rig, which: str, sleep_sec: float) -> None:
    s = fresh.session(POLICY, name=which)
    out = s.driver.run_turn(f"please write the {which} file", timeout_sec=150)
    assert out.how == "signal", f"{out.how}: {out.detail}\n{out.screen}"
    written = s.file_text(f"{which}.txt")
    assert written is not None, f"done was reported but {which}.txt does not exist\n{out.screen}"
    assert float(written) <= out.done_at, "the file was written after done was reported"
    assert out.seconds >= sleep_sec, f"done after {out.seconds:.1f}s, before the {sleep_sec:g}s tool ended"
    finals = _final_answers(fresh, s.trial_id)
    assert finals and finals[-1] <= out.done_at
    # the model saw the tool's result: the last main request carried it
    mains = [x for x in s.exchanges() if x.kind == "main"]
    assert len(mains) >= 2 and mains[-1].view.tool_results, "no tool result reached the Gateway"
