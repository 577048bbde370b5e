"""Transports: the control channel reconnects, falls back, and the server outlives /tmp."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from controllers.tmux import SandboxTmuxController, TmuxController
from controllers.tmux.control import ChannelUnavailable, ControlTransport
from controllers.tmux.transport import ExecTransport
from harness.errors import TmuxCommandError, TransportError

Factory = Callable[..., TmuxController]
SHELL = ["bash", "--norc", "--noprofile"]
ENV = {"PS1": "$ "}


def _wait_dead(ch: ControlTransport, timeout_sec: float = 10) -> None:
    deadline = time.monotonic() + timeout_sec
    while ch.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not ch.alive(), "the killed channel still looks alive"


def test_control_channel_killed_mid_test_is_reconnected(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ch = ctl.transport.primary
    assert isinstance(ch, ControlTransport) and ch.connects == 1
    first_pid = ch.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    _wait_dead(ch)
    ctl.send_keys("echo after-kill")
    ctl.wait_for_text("after-kill\n", timeout_sec=10)
    assert ch.connects == 2 and ch.pid != first_pid
    assert ctl.transport.fallbacks == 0  # it reconnected; it did not need transport (a)


def test_control_client_killed_where_tmux_runs_is_reconnected(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ch = ctl.transport.primary
    assert isinstance(ch, ControlTransport)
    pids = ctl.transport.secondary.run(["list-clients", "-F", "#{client_pid} #{client_flags}"])
    control_pids = [p.split()[0] for p in pids if "control-mode" in p]
    assert len(control_pids) == 1
    subprocess.run(ctl.host.argv(["kill", "-9", control_pids[0]]), timeout=30, check=True)
    _wait_dead(ch)
    assert "$" in ctl.capture_pane()
    assert ch.connects == 2


def test_unconnectable_channel_falls_back_to_exec(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    ch = ctl.transport.primary
    assert isinstance(ch, ControlTransport)
    before = ch.connects
    ch.close()  # closed for good: every connect now fails
    assert "$" in ctl.capture_pane()
    ctl.send_keys("echo via-exec")
    ctl.wait_for_text("via-exec\n", timeout_sec=10)
    assert ctl.transport.fallbacks >= 3 and ch.connects == before


def test_control_channel_to_a_missing_session_is_unavailable(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    bad = ControlTransport(ctl.host, ctl.socket_path, "no-such-session", timeout_sec=5)
    with pytest.raises(ChannelUnavailable, match="did not attach"):
        bad.run(["list-sessions"])
    bad.close()


def test_tmux_errors_are_typed(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    for transport in (ctl.transport.primary, ctl.transport.secondary):
        assert transport is not None
        with pytest.raises(TmuxCommandError):
            transport.run(["has-session", "-t", "no-such-session"])
    ctl.close()
    ctl.close()  # safe twice
    dead = ExecTransport(ctl.host, ctl.socket_path, timeout_sec=10)
    with pytest.raises(TransportError):
        dead.run(["list-sessions"])


@pytest.mark.docker
def test_server_survives_rm_rf_tmp_in_the_container(container: str) -> None:
    with SandboxTmuxController(container) as ctl:
        ctl.start(SHELL, env=ENV, width=100, height=20)
        ctl.wait_for_shell_prompt(timeout_sec=10)
        assert not ctl.socket_path.startswith("/tmp")
        r = subprocess.run(["docker", "exec", "-u", "root", container, "sh", "-c",
                            "rm -rf /tmp/* /tmp/.[!.]* ; ls -A /tmp | wc -l"],
                           capture_output=True, text=True, timeout=60, check=True)
        assert r.stdout.strip() == "0"
        ctl.transport.primary.close()  # type: ignore[union-attr]  # force fresh processes
        ctl.send_keys("echo still-here")
        ctl.wait_for_text("still-here\n", timeout_sec=10)


@pytest.mark.docker
def test_controller_on_a_docker_sandbox(docker_client: Any, base_image: str) -> None:
    from controllers.sandbox.docker import DockerSandbox, DockerSandboxConfig

    cfg = DockerSandboxConfig(image=base_image)
    with DockerSandbox(cfg, client=docker_client) as box, SandboxTmuxController(box) as ctl:
        ctl.start(SHELL, env=ENV, cwd=box.workdir, width=120, height=30)
        ctl.wait_for_shell_prompt(timeout_sec=10)
        r = ctl.run_shell("pwd; id -un", timeout_sec=10)
        assert (r.exit_code, r.output) == (0, "/workspace\nagent")
        assert ctl.attach_command().startswith("docker exec -i -t")
        assert box.container_id in ctl.attach_command()


def test_a_command_without_answer_times_out_and_the_channel_recovers(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    ch = ctl.transport.primary
    assert isinstance(ch, ControlTransport)
    # tmux answers run-shell at once but holds this client's later commands until it ends
    ch.run(["run-shell", "sleep 5"])
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="no answer"):
        ch.run(["display-message", "-p", "late"], timeout_sec=0.5)
    assert time.monotonic() - t0 < 5
    assert not ch.alive()  # a late answer must not be read as the next command's
    assert ch.run(["display-message", "-p", "ok"]) == ["ok"]
    assert ch.connects == 2


def test_a_dead_server_is_a_typed_error_not_a_hang(make_ctl: Factory) -> None:
    ctl = make_ctl(SHELL, env=ENV)
    ctl.wait_for_shell_prompt(timeout_sec=10)
    subprocess.run(ctl.host_tmux_argv(["kill-server"]), timeout=30, check=False)
    t0 = time.monotonic()
    with pytest.raises(TransportError):
        ctl.capture_pane()
    with pytest.raises(TransportError):
        ctl.send_keys("echo nobody")
    assert time.monotonic() - t0 < 20
