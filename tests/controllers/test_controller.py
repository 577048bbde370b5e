"""The Controller on real tmux, locally and inside a container (``backend`` fixture)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable

import pexpect
import pytest

from controllers.tmux import ProcessExited, TmuxController
from controllers.tmux import argv as T
from controllers.tmux import waits as W
from harness.errors import ConfigError, ControllerError, PaneDead, SendKeysError, WaitTimeout

Factory = Callable[..., TmuxController]

BASH = ["bash", "--norc", "--noprofile"]
BASH_ENV = {"PS1": "$ ", "HISTFILE": "/dev/null"}
#: prints each input line as hex, input echo off: the exact bytes that arrived
HEX_ECHO = [
    "bash", "--norc", "--noprofile", "-c",
    (
        "stty -echo; while IFS= read -r l; do printf 'HEX:%s:END\\n' "
        "\"$(printf '%s' \"$l\" | od -An -v -tx1 | tr -d ' \\n')\"; done"
    ),
]

EDGE_CASES = [
    "-n leading dash",
    "--",
    "trailing semicolon;",
    "a;b ; c \\;",
    "Enter",
    "Escape C-c Up",
    "tab\there\tand\tthere",
    "日本語のテキスト",
    "emoji 🎉👍🏽 and ✓",
    "$HOME \"double\" 'single' `tick` \\back\\",
    "#{pane_id} #[fg=red] ~root %end 1 2 1",
    "{brace} [bracket]",
    " leading and trailing spaces ",
    "esc\x1b[mark",
]


def hexline(text: str) -> str:
    return f"HEX:{text.encode().hex()}:END"


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_send_keys_round_trips_exactly(make_ctl: Factory, text: str) -> None:
    ctl = make_ctl(HEX_ECHO, width=200)
    ctl.send_keys(text)
    ctl.wait_for_text(hexline(text), timeout_sec=10)


@pytest.mark.parametrize("transport", ["control", "exec"])
def test_long_text_and_several_sends_arrive_in_order(make_ctl: Factory, transport: str) -> None:
    ctl = make_ctl(HEX_ECHO, width=200, transport=transport)
    long = "x-" * 700 + "end"  # several send-keys chunks
    for t in ("first", long, "third"):
        ctl.send_keys(t, delay_enter=0)
    screen = ctl.capture_pane(history=True)
    ctl.wait_for_text(hexline("third"), timeout_sec=10)
    screen = ctl.capture_pane(history=True)
    hexes = re.findall(r"HEX:([0-9a-f]*):END", screen)
    assert [bytes.fromhex(h).decode() for h in hexes] == ["first", long, "third"]
    assert ctl.transport.name == transport


def test_unsendable_text_is_an_error_not_a_drop(make_ctl: Factory) -> None:
    ctl = make_ctl(HEX_ECHO)
    with pytest.raises(SendKeysError, match=r"offset 5"):
        ctl.send_keys("line1\nline2")
    with pytest.raises(SendKeysError, match="NUL"):
        ctl.send_keys("a\x00b")
    with pytest.raises(SendKeysError, match="Nope"):
        ctl.send_key("Nope")


def test_paste_50kb_arrives_whole(make_ctl: Factory) -> None:
    lines = [f"{i:05d} " + "pasted text with ünïcode and tabs\t;-- " * 2 for i in range(640)]
    text = "\n".join(lines) + "\n"
    data = text.encode()
    assert len(data) >= 50_000
    prog = ["sh", "-c", f"stty raw -echo; head -c {len(data)} | sha256sum; sleep 600"]
    ctl = make_ctl(prog, width=120)
    time.sleep(0.3)  # let stty take effect before the paste
    ctl.paste(text)
    ctl.wait_for_text(hashlib.sha256(data).hexdigest(), timeout_sec=30)


def test_paste_multiline_into_bash_runs_each_line(make_ctl: Factory) -> None:
    ctl = make_ctl(BASH, env=BASH_ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ctl.paste("echo one-$((1+1))\necho two-$((2+2))", enter=True)
    ctl.wait_for_text("two-4", timeout_sec=10)
    assert "one-2" in ctl.capture_pane()


def test_send_key_names_reach_the_program(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "stty raw -echo; od -An -c; sleep 600"], width=120)
    time.sleep(0.3)
    for key in ["Escape", "Tab", "BTab", "Up"] * 2:  # 16 bytes: one full od line
        ctl.send_key(key)
    m = ctl.wait_for_text(r"033.*\\t.*033\s+\[\s+Z.*033\s+\[\s+A", regex=True, timeout_sec=10)
    assert m


def test_history_of_5000_lines_is_captured_whole(make_ctl: Factory) -> None:
    # the pause lets tmux drain the pty: it drops what is unread when the process exits
    ctl = make_ctl(["sh", "-c", "seq 1 5000; printf '%0300d\\n' 7; sleep 1"], width=80)
    ctl.wait(ProcessExited(), timeout_sec=20)
    text = ctl.capture_pane(history=True)
    lines = text.splitlines()
    numbers = [ln for ln in lines if ln.isdigit() and len(ln) <= 4]
    assert numbers == [str(i) for i in range(1, 5001)]
    assert "0" * 299 + "7" in lines  # a 300-column line, wrapped at 80, joined back
    assert len(ctl.capture_pane().splitlines()) <= 24


def test_wait_for_idle_fires_after_the_program_goes_quiet(make_ctl: Factory) -> None:
    # ticks 0.1 s apart against 1.0 s of stillness: only a 0.9 s stall of the program (seen
    # once on a loaded CI machine at 0.25 s against 0.6 s) could pass for quiet
    prog = "for i in $(seq 1 12); do echo tick $i; sleep 0.1; done; echo quiet; sleep 600"
    ctl = make_ctl(["sh", "-c", prog])
    t0 = time.monotonic()
    screen = ctl.wait_for_idle(stable_for=1.0, poll=0.05, timeout_sec=20)
    took = time.monotonic() - t0
    assert "quiet" in screen and "tick 12" in screen and took >= 2.0, (screen, took)


def test_wait_for_idle_sees_through_a_masked_clock_only(make_ctl: Factory) -> None:
    clock = ["sh", "-c",
             "echo ready; while :; do printf '\\rclock %s ' $(date +%s%N); sleep 0.1; done"]
    ctl = make_ctl(clock)
    ctl.wait_for_text("clock", timeout_sec=10)
    with pytest.raises(WaitTimeout):
        ctl.wait_for_idle(stable_for=0.5, timeout_sec=1.5)
    screen = ctl.wait_for_idle(stable_for=0.5, ignore=[r"clock \d+"], timeout_sec=10)
    assert "ready" in screen


def test_wait_for_idle_is_vetoed_by_a_busy_marker(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "echo '✻ Working (esc to interrupt)'; sleep 600"])
    ctl.wait_for_text("Working", timeout_sec=10)
    with pytest.raises(WaitTimeout) as err:
        ctl.wait_for_idle(stable_for=0.3, busy=[r"esc to interrupt"], timeout_sec=1.5)
    assert "esc to interrupt" in err.value.screen
    assert "screen idle for 0.3s" in str(err.value) and "esc to interrupt" in str(err.value)
    assert ctl.wait_for_idle(stable_for=0.3, timeout_sec=10)  # without the marker: idle


def test_pane_death_is_seen_with_its_exit_status(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "echo bye; sleep 0.3; exit 7"])
    assert ctl.wait(ProcessExited(), timeout_sec=10) == 7
    assert not ctl.is_alive() and ctl.exit_status() == 7
    assert "bye" in ctl.capture_pane()  # remain-on-exit keeps the last screen
    with pytest.raises(PaneDead) as err:
        ctl.wait_for_text("never", timeout_sec=5)
    assert err.value.exit_status == 7


def test_signal_death_reports_128_plus_n(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "kill -TERM $$"])
    assert ctl.wait(ProcessExited(), timeout_sec=10) == 128 + 15


def test_run_shell_returns_exit_code_and_output(make_ctl: Factory) -> None:
    ctl = make_ctl(BASH, env=BASH_ENV, width=120)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    r = ctl.run_shell("printf 'a\\nb c\\n'; (exit 3)", timeout_sec=10)
    assert (r.exit_code, r.output) == (3, "a\nb c")
    r2 = ctl.run_shell("echo ok", timeout_sec=10)
    assert (r2.exit_code, r2.output) == (0, "ok")
    with pytest.raises(WaitTimeout, match="HE_"):
        ctl.run_shell("sleep 30", timeout_sec=1)
    ctl.wait_for_shell_prompt(timeout_sec=10)  # the timeout interrupted the command


@pytest.mark.parametrize("transport", ["control", "exec"])
def test_wait_for_signal_uses_a_fresh_channel_each_time(make_ctl: Factory, transport: str) -> None:
    ctl = make_ctl(BASH, env=BASH_ENV, width=200, transport=transport)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ch1, ch2 = ctl.new_channel(), ctl.new_channel()
    assert ch1 != ch2
    ctl.send_keys("sleep 0.5; " + shlex.join(ctl.signal_command(ch1)))
    assert ctl.wait_for_signal(ch1, timeout_sec=15) == ch1
    with pytest.raises(WaitTimeout, match=ch2):
        ctl.wait_for_signal(ch2, timeout_sec=1)


def _armed_shell(make_ctl: Factory) -> tuple[TmuxController, str, W.Signal]:
    """A shell at its prompt and a started Signal on a fresh channel (caller stops it)."""
    ctl = make_ctl(BASH, env=BASH_ENV, width=200)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ch = ctl.new_channel()
    sig = W.Signal(ch)
    sig.start(ctl)
    return ctl, ch, sig


def test_signal_on_the_control_channel_needs_no_waiting_process(make_ctl: Factory) -> None:
    """The firing is a notification on the command channel; no wait-for process runs."""
    ctl, ch, sig = _armed_shell(make_ctl)
    try:
        assert sig._proc is None and sig.check(ctl, "", time.monotonic()) is None
        ctl.send_keys(shlex.join(ctl.signal_command(ch)))
        deadline = time.monotonic() + 10
        while sig.check(ctl, "", time.monotonic()) is None:
            assert time.monotonic() < deadline, "the signal was never seen"
            time.sleep(0.01)
    finally:
        sig.stop()


def test_signal_fired_while_the_control_channel_was_down_is_read_from_the_board(make_ctl: Factory) -> None:
    ctl, ch, sig = _armed_shell(make_ctl)
    try:
        channel = ctl.notification_feed()
        assert channel is not None
        assert channel.pid is not None
        os.kill(channel.pid, signal.SIGKILL)  # the channel crashes: the notification is lost
        deadline = time.monotonic() + 10
        while channel.alive():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        subprocess.run(ctl.host.argv([*T.tmux_prefix("tmux", ctl.socket_path), *T.fire_signal(ch)]),
                       timeout=30, check=True, capture_output=True)
        ctl.capture_pane()  # any command reconnects the channel
        assert sig.check(ctl, "", time.monotonic()) == ch
    finally:
        sig.stop()


def test_wait_timeout_names_the_target_and_shows_the_screen(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "echo visible-line; sleep 600"])
    ctl.wait_for_text("visible-line", timeout_sec=10)
    with pytest.raises(WaitTimeout) as err:
        ctl.wait_for_prompt(r"^never \d+", timeout_sec=0.5)
    assert "never" in str(err.value) and "visible-line" in str(err.value)
    with pytest.raises(ConfigError, match="invalid regex"):
        ctl.wait_for_prompt("([", timeout_sec=1)


def test_resize_and_interrupt(make_ctl: Factory) -> None:
    ctl = make_ctl(BASH, env=BASH_ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ctl.resize(100, 30)
    st = ctl.pane_state()
    assert (st.width, st.height) == (100, 30)
    ctl.send_keys("sleep 600")
    time.sleep(0.3)
    ctl.interrupt()
    ctl.wait_for_text("^C", timeout_sec=5)
    ctl.wait_for_shell_prompt(timeout_sec=5)


def test_attach_command_lets_a_person_type_into_the_pane(make_ctl: Factory) -> None:
    ctl = make_ctl(BASH, env=BASH_ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    argv = ctl.attach_argv()
    assert shlex.split(ctl.attach_command()) == argv
    child = pexpect.spawn(argv[0], argv[1:], dimensions=(30, 100), timeout=10,
                          env={**os.environ, "TERM": "xterm"})  # keeps DOCKER_HOST
    try:
        time.sleep(1.0)
        child.send("echo typed-by-$((6*7))\r")
        ctl.wait_for_text("typed-by-42", timeout_sec=10)
        st = ctl.pane_state()
        assert (st.width, st.height) == (80, 24)  # the attached client did not resize it
    finally:
        child.terminate(force=True)


def test_enter_is_pressed_again_when_the_first_was_not_taken(make_ctl: Factory) -> None:
    # reads "x", then two Enters, before it shows anything: the first Enter changes nothing
    prog = ["sh", "-c", "stty raw -echo; dd bs=1 count=3 of=/dev/null 2>/dev/null; "
            "echo second-enter-taken; sleep 600"]
    ctl = make_ctl(prog)
    time.sleep(0.3)
    ctl.send_keys("x", delay_enter=0, enter_check_sec=0.5, enter_retries=2)
    assert "second-enter-taken" in ctl.capture_pane()


def test_enter_never_taken_is_an_error(make_ctl: Factory) -> None:
    ctl = make_ctl(["sh", "-c", "stty -echo; sleep 600"])
    time.sleep(0.3)
    t0 = time.monotonic()
    with pytest.raises(SendKeysError, match="Enter was not taken"):
        ctl.send_keys("ignored", delay_enter=0, enter_check_sec=0.3, enter_retries=1)
    assert time.monotonic() - t0 < 5


def test_start_argv_then_started_and_its_errors(tmux_bin: str) -> None:
    """The split start (a caller runs the argv in its own process): a good run gives a
    working pane; output without a pane id is an error that quotes what tmux said."""
    from controllers.tmux import LocalTmuxController

    with LocalTmuxController() as ctl:
        argv = ctl.start_argv(["sh", "-c", "echo split-start; sleep 600"], width=80, height=10)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
        ctl.started(out.splitlines())
        ctl.wait_for_text("split-start", timeout_sec=10)
    bad = LocalTmuxController()
    bad.start_argv(["true"])
    with pytest.raises(ControllerError, match="error creating"):
        bad.started(["error creating /nowhere/t.sock (No such file or directory)"])
    with pytest.raises(ControllerError, match="closed"):
        bad.start_argv(["true"])
