"""The same behaviour from every Sandbox kind (local directory and Docker container)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


def test_exec_returns_values_not_exceptions(any_box: Any) -> None:
    r = any_box.exec(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (r.exit_code, r.stdout, r.stderr) == (7, "out\n", "err\n")
    assert not r.ok and not r.timed_out
    assert any_box.exec(["true"]).ok


def test_exec_missing_command_is_a_value(any_box: Any) -> None:
    r = any_box.exec(["definitely-not-a-command-xyz"])
    assert r.exit_code == 127


def test_exec_env_cwd_and_input(any_box: Any) -> None:
    any_box.exec(["mkdir", "-p", "sub"])
    r = any_box.exec(["sh", "-c", 'echo "$FOO"; pwd'], env={"FOO": "bar baz"}, cwd=f"{any_box.workdir}/sub")
    assert r.stdout.splitlines() == ["bar baz", f"{any_box.workdir}/sub"]
    assert any_box.exec(["cat"], input=b"piped \x00 bytes").stdout == "piped \x00 bytes"


def test_exec_timeout_kills_the_process_inside(any_box: Any) -> None:
    marker = f"sleep 31{os.getpid() % 10}7"
    r = any_box.exec(["sh", "-c", f"{marker}; echo never"], timeout_sec=1)
    assert r.timed_out and r.exit_code == 124 and "never" not in r.stdout
    ps = any_box.exec(["ps", "-eo", "args"])
    assert marker not in ps.stdout, ps.stdout


def test_files_round_trip_binary_and_nested(any_box: Any, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 50
    any_box.write_file("deep/er/blob.bin", blob)
    assert any_box.read_file("deep/er/blob.bin") == blob
    any_box.write_file("run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    assert any_box.exec(["./run.sh"]).stdout == "ran\n"
    with pytest.raises(FileNotFoundError):
        any_box.read_file("nope/missing.txt")


def test_copy_tree_in_and_out(any_box: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f.txt").write_text("hello")
    (src / "x.sh").write_text("#!/bin/sh\n")
    (src / "x.sh").chmod(0o755)
    os.symlink("a/b/f.txt", src / "link")
    any_box.copy_in(src, "tree")
    assert any_box.exec(["cat", "tree/link"]).stdout == "hello"
    assert any_box.exec(["test", "-x", "tree/x.sh"]).ok
    out = tmp_path / "out"
    any_box.copy_out("tree", out)
    assert (out / "a" / "b" / "f.txt").read_text() == "hello"
    assert os.readlink(out / "link") == "a/b/f.txt"
    assert os.access(out / "x.sh", os.X_OK)
