"""Tool shims run for real under /bin/sh (dash): each call logged as JSON, scripted answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.tasks import Task, read_tools_log, render_tool_shims, tool_data

SH = shutil.which("dash") or "/bin/sh"


class Box:
    """A stand-in for the sandbox layout: shims, data and log in a temp folder."""

    def __init__(self, root: Path, task: Task) -> None:
        self.bin = root / "bin"
        self.data = root / "data"
        self.log = root / "logs" / "tools.log"
        self.bin.mkdir()
        for name, text in render_tool_shims(task).items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        for rel, src in tool_data(task).items():
            (self.data / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, self.data / rel)

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HARNESS_TOOLS_LOG": str(self.log),
               "HARNESS_TOOL_DATA": str(self.data)}
        return subprocess.run([SH, str(self.bin / tool), *args], capture_output=True,
                              text=True, env=env, timeout=30, check=False)

    def calls(self) -> list[dict[str, object]]:
        return read_tools_log(self.log.read_text()) if self.log.exists() else []


def make(tmp_path: Path, tools: list[dict[str, object]]) -> Box:
    task = Task.model_validate({"id": "t", "prompt": "p", "tools": tools}).bind(tmp_path)
    return Box(tmp_path, task)


def test_canned_output_is_exact_and_logged(tmp_path: Path) -> None:
    box = make(tmp_path, [{"name": "deploy", "output": "it's done\n  \\n $HOME `x`",
                           "exit_code": 4}])
    r = box.run("deploy", "--env", "prod")
    assert r.stdout == "it's done\n  \\n $HOME `x`" and r.returncode == 4
    [call] = box.calls()
    assert call["tool"] == "deploy" and call["args"] == ["--env", "prod"]
    assert isinstance(call["ts"], str) and call["ts"].endswith("Z")


def test_responses_first_match_wins_then_default(tmp_path: Path) -> None:
    box = make(tmp_path, [{"name": "gh", "default": "unknown command\n", "exit_code": 1,
                           "responses": [
                               {"match": "^pr (list|ls)", "output": "#1 fix\n"},
                               {"match": "fail", "output": "boom", "exit_code": 2},
                               {"match": "pr", "output": "other pr\n"}]}])
    assert box.run("gh", "pr", "list").stdout == "#1 fix\n"
    r = box.run("gh", "pr", "fail")
    assert (r.stdout, r.returncode) == ("boom", 2)
    assert box.run("gh", "pr", "view").stdout == "other pr\n"
    r = box.run("gh", "issue")
    assert (r.stdout, r.returncode) == ("unknown command\n", 1)
    assert [c["args"] for c in box.calls()] == [["pr", "list"], ["pr", "fail"], ["pr", "view"],
                                                ["issue"]]


def test_script_gets_args_and_data_dir(tmp_path: Path) -> None:
    box = make(tmp_path, [{"name": "count", "script": 'echo "$# args: $*"\nexit 3\n'}])
    r = box.run("count", "a b", "c")
    assert (r.stdout, r.returncode) == ("2 args: a b c\n", 3)
    assert box.calls()[0]["args"] == ["a b", "c"]


def test_script_globs_work(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    for n in ("a.md", "b.md"):
        (tmp_path / "w" / n).write_text("x")
    box = make(tmp_path, [{"name": "ls-md", "script": f'cd {tmp_path}/w && echo *.md'}])
    assert box.run("ls-md", "*").stdout == "a.md b.md\n"
    assert box.calls()[0]["args"] == ["*"]


def test_log_survives_a_missing_log_dir(tmp_path: Path) -> None:
    box = make(tmp_path, [{"name": "x", "output": "ok"}])
    assert not box.log.parent.exists()
    assert box.run("x").stdout == "ok"
    assert len(box.calls()) == 1


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(_text, max_size=4))
def test_logged_args_roundtrip(tmp_path_factory: pytest.TempPathFactory, args: list[str]) -> None:
    """Any argument text (quotes, backslashes, newlines, tabs, unicode) comes back as JSON.

    Control characters other than tab and newline are dropped (documented); CR included.
    """
    root = tmp_path_factory.mktemp("shim")
    box = make(root, [{"name": "t", "output": ""}])
    box.run("t", *args)
    keep = ["".join(c for c in a if c in "\t\n" or ord(c) >= 0x20) for a in args]
    assert box.calls()[0]["args"] == keep


def test_search_over_real_brain_pages(tmp_path: Path, shared_fixtures: Path) -> None:
    pages = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first/brain"
    box = make(tmp_path, [{"name": "search", "search": {"pages": str(pages), "k": 3}}])
    r = box.run("search", "should a team switch from REST to GraphQL?")
    assert r.returncode == 0
    first = r.stdout.splitlines()[0]
    assert first == ("[topics/if-a-team-should-switch-from-rest-to-graphql] "
                     "If a team should switch from REST to GraphQL")
    assert r.stdout.count("\n[") <= 2  # k=3 hits at most
    assert box.run("search", "zzzz qqqq").stdout == "No results.\n"
    assert [c["args"] for c in box.calls()] == [["should a team switch from REST to GraphQL?"],
                                                ["zzzz qqqq"]]


def test_read_tools_log_skips_torn_lines() -> None:
    text = '{"tool":"a","args":[],"ts":"x"}\n{"tool":"b","ar\nnot json\n[1]\n'
    assert [c["tool"] for c in read_tools_log(text)] == ["a"]


def test_shim_is_posix_sh(tmp_path: Path) -> None:
    """dash -n parses every shim kind (no bashisms)."""
    box = make(tmp_path, [{"name": "a", "output": "x"}, {"name": "b", "script": "true"},
                          {"name": "c", "responses": [{"match": "x", "output": "y"}]},
                          {"name": "d", "search": {"pages": "."}}])
    for f in box.bin.iterdir():
        assert subprocess.run([SH, "-n", str(f)], check=False).returncode == 0, f.name
        assert json.dumps(f.read_text())  # plain text
