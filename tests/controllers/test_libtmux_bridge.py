"""libtmux's own API, driven over the controller's control channel (locally and in a container).

Pinned to the installed libtmux: the source of the installed release is read to prove that
the three places it runs tmux are the three the bridge routes.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from pathlib import Path

import libtmux
import pytest

from controllers.tmux import TmuxController
from controllers.tmux import libtmux_bridge as B
from controllers.tmux.control import ControlTransport
from harness.errors import ConfigError, ControllerError

Factory = Callable[..., TmuxController]
SHELL = ["bash", "--norc", "--noprofile"]
ENV = {"PS1": "$ "}


def _wait_for(pane: libtmux.Pane, text: str, timeout_sec: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout_sec
    while True:
        lines = pane.capture_pane()
        if any(text in ln for ln in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_libtmux_drives_a_new_pane_over_the_control_channel(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    server = ctl.libtmux_server()
    assert isinstance(server, libtmux.Server)
    assert ctl.libtmux_server() is server  # one per controller

    session = server.new_session(session_name="lib", window_name="first", attach=False,
                                 window_command="bash --norc --noprofile")
    window = session.new_window(window_name="second", attach=False,
                                window_shell="bash --norc --noprofile")
    pane = window.split(shell="bash --norc --noprofile")
    pane.send_keys("echo libtmux-$((6*7))", enter=True)
    lines = _wait_for(pane, "libtmux-42")
    assert "libtmux-42" in lines, lines  # the output line, not only the echoed command

    # libtmux's list queries (which bypass Server.cmd) see what the harness's tmux sees
    names = sorted(s.session_name or "" for s in server.sessions)
    assert names == sorted(ctl.tmux(["list-sessions", "-F", "#{session_name}"]))
    assert [w.window_name for w in server.sessions.get(session_name="lib").windows] == [
        "first", "second"]
    assert len(window.panes) == 2
    # libtmux's version checks asked the server where it runs, not a local tmux -V
    version = ctl.tmux(["display-message", "-p", "#{version}"])[0]
    assert libtmux.common.get_version_str(tmux_bin=server.tmux_bin) == version

    # every one of those commands went over the control channel: none on transport (a)
    assert isinstance(ctl.transport.primary, ControlTransport)
    assert ctl.transport.fallbacks == 0 and ctl.transport.secondary.calls == 0

    # a command tmux refuses is libtmux's usual result, not an exception
    refused = server.cmd("kill-window", "-t", "@9999")
    assert refused.returncode == 1 and "can't find window" in " ".join(refused.stderr)

    # the controller's own pane, as a libtmux object
    own = ctl.libtmux_pane()
    assert own.pane_id == ctl.pane_id and own.pane_width == str(ctl.width)


def test_libtmux_server_on_the_exec_transport_works_too(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV, transport="exec")
    pane = ctl.libtmux_pane()
    pane.send_keys("echo via-exec-$((2+3))", enter=True)
    assert "via-exec-5" in _wait_for(pane, "via-exec-5")
    assert ctl.transport.secondary.calls > 0


@pytest.mark.tmux
def test_plain_libtmux_servers_are_untouched(tmux_bin: str) -> None:
    from controllers.tmux import LocalTmuxController

    with LocalTmuxController() as ctl:
        ctl.start(SHELL, env=ENV, width=80, height=24)
        channel = ctl.libtmux_server()  # installs the routing
        plain = libtmux.Server(socket_path=ctl.socket_path)
        assert plain.tmux_bin is None and plain.tmux_bin != channel.tmux_bin
        # its own local processes, as before: same sessions, same version
        assert {s.session_name for s in plain.sessions} == {s.session_name for s in channel.sessions}
        assert str(libtmux.common.get_version()) in libtmux.common.get_version_str(
            channel.tmux_bin)


def test_libtmux_server_needs_a_started_controller() -> None:
    with pytest.raises(ControllerError, match="controller is new"):
        TmuxController().libtmux_server()


def test_an_unread_libtmux_release_is_refused() -> None:
    with pytest.raises(ConfigError, match="libtmux 0.99.0 is not supported"):
        B.check_supported("0.99.0")
    B.check_supported(libtmux.__version__)  # the installed one was read


def _tmux_call_sites(package: Path) -> set[str]:
    """``module:function`` of every call in libtmux that runs tmux or a process."""
    sites: set[str] = set()
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(
                    f, ast.Attribute) else ""
                owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(
                    f.value, ast.Name) else ""
                if name == "tmux_cmd" or owner == "subprocess" or name == "Popen":
                    sites.add(f"{path.stem}:{fn.name}")
    return sites


def test_libtmux_runs_tmux_only_where_the_bridge_routes() -> None:
    """If a libtmux upgrade runs tmux somewhere new, that place would bypass the channel."""
    found = _tmux_call_sites(Path(libtmux.__file__).parent)
    assert found == {
        "server:cmd",             # overridden by ChannelServer.cmd
        "server:raise_if_dead",   # overridden by ChannelServer.raise_if_dead
        "neo:fetch_objs",         # routed: neo.tmux_cmd
        "common:_query_version",  # routed: common._query_version
        "common:__init__",        # tmux_cmd itself, which ChannelReply never runs
    }, found


@pytest.mark.tmux
def test_the_local_controller_lives_through_libtmux(tmux_bin: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The local controller's session, signal board and pane are made by libtmux's
    ``Server.new_session`` and found as its objects; ``close`` is ``Server.kill``. The pane
    still runs the program itself (its exit status, its environment), and the per-poll paths
    never touch libtmux."""
    from controllers.tmux import LocalTmuxController
    from controllers.tmux.argv import SIGNAL_SESSION
    from controllers.tmux.waits import ProcessExited

    calls: list[str] = []
    for name in ("new_session", "kill"):
        original = getattr(libtmux.Server, name)

        def spy(self: libtmux.Server, *a: object, _n: str = name, _o: object = original,
                **kw: object) -> object:
            calls.append(_n)
            return _o(self, *a, **kw)  # type: ignore[operator]

        monkeypatch.setattr(libtmux.Server, name, spy)

    ctl = LocalTmuxController()
    with ctl:
        ctl.start(["sh", "-c", 'echo "[$PS1]"; read x; exit 7'],
                  env={"PS1": "%% "}, width=90, height=20)
        assert calls == ["new_session", "new_session"]  # the agent's session, the signal board
        server = ctl.libtmux_server()
        session = server.sessions.get(session_name=ctl.session)
        assert session is not None and session.active_pane is not None
        assert session.active_pane.pane_id == ctl.pane_id
        assert (session.active_pane.pane_width, session.active_pane.pane_height) == ("90", "20")
        assert server.has_session(SIGNAL_SESSION)
        assert session.active_window.show_option("window-size") == "manual"
        ctl.wait_for_text("[%% ]", timeout_sec=20)  # the env reached the program as given
        ctl.send_keys("", enter=True)
        assert ctl.wait(ProcessExited(), timeout_sec=20) == 7  # the program itself, not a shell
        assert isinstance(ctl.transport.primary, ControlTransport)
        assert ctl.transport.fallbacks == 0 and ctl.transport.secondary.calls == 0, \
            "the per-poll paths stayed on the control channel"
        socket_path = ctl.socket_path
    assert calls[-1] == "kill"
    assert not libtmux.Server(socket_path=socket_path).is_alive()
