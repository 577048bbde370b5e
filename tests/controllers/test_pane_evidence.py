"""``pane.txt`` on a real tmux pane (local and in a container): every line a program printed
is in it, also after the program wiped the terminal's history, and it is taken only once
the program has finished drawing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from controllers.profiles.shell import ShellProfile
from controllers.tmux import TmuxController
from harness.runner.evidence import write_pane

Factory = Callable[..., TmuxController]
SHELL = ShellProfile("oracle")
N = 5000


def numbers(a: int, b: int) -> str:
    return f"seq -f 'num %05g' {a} {b}"


#: 5,000 numbered lines with every way to erase a terminal in between: clear screen, the
#: `clear` of TERM=screen (home, erase below), a reset, and clear screen + erase saved lines
WIPING = "; ".join([numbers(1, 2000), r"printf '\033[2J'", numbers(2001, 3000), r"printf '\033[H\033[J'",
                    numbers(3001, 4000), r"printf '\033c'", numbers(4001, N),
                    r"printf '\033[H\033[2J\033[3J'"])


def missing(text: str) -> list[int]:
    lines = set(text.split("\n"))
    return [i for i in range(1, N + 1) if f"num {i:05d}" not in lines]


def shell(make_ctl: Factory, tmp_path: Path) -> TmuxController:
    ctl = make_ctl(["bash", "--noprofile", "--norc"], width=120, height=40, env={"PS1": "$ "})
    ctl.wait_for_shell_prompt(timeout_sec=30)
    ctl.start_recording(tmp_path / "session.cast")
    return ctl


def test_every_line_survives_the_wipes(make_ctl: Factory, tmp_path: Path) -> None:
    ctl = shell(make_ctl, tmp_path)
    assert ctl.run_shell(WIPING, timeout_sec=120).exit_code == 0
    assert len(missing(ctl.capture_pane(history=True))) > N - 100  # tmux's history was erased
    info = write_pane(ctl, SHELL.spec, tmp_path / "pane.txt", finished=True)
    text = (tmp_path / "pane.txt").read_text()
    assert missing(text) == [], f"{len(missing(text))} lines lost, e.g. {missing(text)[:5]}"
    assert info["source"] == "cast" and info["wipes"] == 2 and info["settled"], info  # reset, ED 3
    assert text.rstrip().endswith("$")  # the prompt that came back after the last wipe
    assert ctl.recorder is None  # stopped, so the file it read was whole


def test_without_a_wipe_tmux_capture_is_used_and_whole(make_ctl: Factory, tmp_path: Path) -> None:
    ctl = shell(make_ctl, tmp_path)
    assert ctl.run_shell(f"{numbers(1, 2500)}; printf '\\033[2J'; {numbers(2501, N)}", timeout_sec=120).exit_code == 0
    info = write_pane(ctl, SHELL.spec, tmp_path / "pane.txt", finished=True)
    assert info["source"] == "tmux" and "wipes" not in info, info
    assert missing((tmp_path / "pane.txt").read_text()) == []


def test_pane_is_taken_after_the_program_finished_drawing(make_ctl: Factory, tmp_path: Path) -> None:
    """Output in two bursts with a pause between them, taken the moment the command is sent:
    the capture waits for quiet and the prompt, so the end of the output is in it."""
    ctl = shell(make_ctl, tmp_path)
    ctl.send_keys(f"{numbers(1, 2500)}; sleep 0.3; {numbers(2501, N)}; echo all-drawn", enter=True)
    info = write_pane(ctl, SHELL.spec, tmp_path / "pane.txt", finished=True)
    text = (tmp_path / "pane.txt").read_text()
    assert info["settled"] is True, info
    assert missing(text) == [] and text.split("\n")[-2:] == ["all-drawn", "$"], text[-200:]


def test_a_silent_busy_program_under_an_idle_looking_screen_is_waited_for(
        make_ctl: Factory, tmp_path: Path) -> None:
    """What claude was seen to do on a busy machine: the screen shows a prompt, nothing is
    printed for a while, but the process computes; the answer comes after. The pane is
    taken once the pane's processes are idle too."""
    ctl = shell(make_ctl, tmp_path)
    ctl.send_keys("clear; printf '$ \\n'; timeout 2 sh -c 'while :; do :; done'; echo answer-drawn", enter=True)
    info = write_pane(ctl, SHELL.spec, tmp_path / "pane.txt", finished=True)
    text = (tmp_path / "pane.txt").read_text()
    assert info["settled"] is True, info
    assert text.split("\n")[-2:] == ["answer-drawn", "$"], text[-300:]
