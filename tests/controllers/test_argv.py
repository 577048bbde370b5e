"""Pure parts: argv builders, control-mode quoting and parsing, text checks (no tmux)."""

from __future__ import annotations

import pytest

from controllers.tmux import argv as T
from controllers.tmux.control import Block, ControlParser, Notification, decode_output
from controllers.tmux.hosts import ContainerHost, LocalHost
from harness.errors import SendKeysError


def test_start_sequence_sets_options_before_the_pane_and_size_after() -> None:
    seq = T.start_server_sequence("s1", ["bash"], width=120, height=40, cwd="/w",
                                  env={"A": "1"})
    assert seq[:3] == ["-f", "/dev/null", "start-server"]
    joined = " ".join(seq)
    new = seq.index("new-session")
    assert seq.index("100000") < new and joined.index("remain-on-exit on") < joined.index("new-session")
    assert seq.index("manual") > new  # tmux 3.3a dies when window-size manual precedes a session
    # on the pane's window only: a global one makes tmux 3.3a die on the next new window
    assert seq[seq.index("manual") - 4:seq.index("manual")] == ["-w", "-t", "=s1:", "window-size"]
    assert seq[new:new + 12] == ["new-session", "-d", "-s", "s1", "-x", "120", "-y", "40",
                                 "-c", "/w", "-e", "A=1"]
    assert seq[seq.index("--", new):][:2] == ["--", "bash"]
    assert seq[-5:] == ["display-message", "-p", "-t", "s1", "#{pane_id}"]  # one process prints the pane id


@pytest.mark.parametrize("bad", ["a\nb", "x\ry", "\x00", "ok\x03", "\ud800", "del\x7f"])
def test_check_literal_names_the_offending_part(bad: str) -> None:
    with pytest.raises(SendKeysError, match="offset"):
        T.check_literal(bad)


@pytest.mark.parametrize("good", ["-x", "a;", "Enter", "tab\there", "esc\x1b", "日本 🎉", ""])
def test_check_literal_accepts_sendable_text(good: str) -> None:
    T.check_literal(good)


def test_control_attach_sets_no_output_at_attach() -> None:
    assert T.control_attach("s1") == ["-C", "attach-session", "-t", "s1"]
    assert T.control_attach("s1", no_output=True) == ["-C", "attach-session", "-f", "no-output", "-t", "s1"]


def test_send_literal_puts_double_dash_before_user_text() -> None:
    assert T.send_literal("%3", "-n") == ["send-keys", "-t", "%3", "-l", "--", "-n"]


def test_unknown_key_name_is_rejected() -> None:
    with pytest.raises(SendKeysError, match="Bogus"):
        T.send_key("%0", "Bogus")


def test_control_line_escapes_specials() -> None:
    line = T.control_line(["send-keys", "-l", "--", 'a$HOME\\"\n\t;é'])
    assert line == 'send-keys "-l" "--" "a\\$HOME\\\\\\"\\012\\011;é"'
    assert "\n" not in line


def test_chunks_never_lose_text() -> None:
    text = "ab🎉" * 1000
    parts = T.chunks(text, 512)
    assert "".join(parts) == text and max(map(len, parts)) == 512
    assert T.chunks("", 5) == [""]


def test_parser_guards_end_with_the_begin_fields() -> None:
    p = ControlParser()
    assert p.feed(b"%begin 100 7 1\n") is None
    assert p.feed(b"%end 100 6 1\n") is None  # pane text that looks like an end line
    assert p.feed(b"plain\n") is None
    block = p.feed(b"%end 100 7 1\n")
    assert isinstance(block, Block) and block.ok and block.number == 7 and block.flags == 1
    assert block.lines == ["%end 100 6 1", "plain"]
    p.feed(b"%begin 101 8 1\n")
    p.feed(b"no such session\n")
    err = p.feed(b"%error 101 8 1\n")
    assert isinstance(err, Block) and not err.ok and err.lines == ["no such session"]
    note = p.feed(b"%output %0 hi\\015\\012\n")
    assert isinstance(note, Notification) and note.name == "%output"


def test_decode_output_undoes_octal_escapes() -> None:
    assert decode_output(b"a\\015\\012b\\134c") == b"a\r\nb\\c"
    assert decode_output("é".encode()) == "é".encode()


def test_hosts_build_exec_argv() -> None:
    h = ContainerHost("abc", user="agent")
    assert h.argv(["tmux", "ls"], interactive=True) == [
        "docker", "exec", "-i", "-u", "agent", "abc", "tmux", "ls"]
    assert h.attach_argv(["tmux"])[:3] == ["docker", "exec", "-it"]
    assert LocalHost().argv(["tmux"]) == ["tmux"]
