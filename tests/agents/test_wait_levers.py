"""The levers that make a waiting trial cheap (issue 14): the CLIs are told not to animate,
the driver reads the screen slowly while the model has not answered, and
``HARNESS_WAIT_LEVERS=off`` turns both off (for the bench's before/after)."""

from __future__ import annotations

import json

import pytest

from controllers.profiles.base import LaunchContext
from controllers.profiles.claude import settings_json
from controllers.profiles.codex import config_toml
from controllers.profiles.driver import AgentDriver

CTX = LaunchContext(gateway_url="http://127.0.0.1:1", api_key="k", model="m", workdir="/w",
                    tmux_socket="/s")


def test_claude_and_codex_are_told_not_to_animate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    s = settings_json(CTX)
    assert s["prefersReducedMotion"] is True and s["spinnerTipsEnabled"] is False
    assert "hooks" in s  # the completion hook is still there
    toml = config_toml(CTX)
    assert "[tui]\nanimations = false\nshow_tooltips = false\n" in toml


def test_levers_off_leaves_the_old_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    assert "prefersReducedMotion" not in json.dumps(settings_json(CTX))
    assert "[tui]" not in config_toml(CTX)


class _Spec:
    idle_masks: tuple[str, ...] = ()


def test_the_driver_polls_slowly_only_while_the_model_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WAIT_LEVERS", raising=False)
    silent = [0.0]
    drv = AgentDriver(_Spec(), ctl=None, box=None, waiting=lambda: silent[0])  # type: ignore[arg-type]
    assert drv._poll_interval() == drv.poll_sec  # no request open
    silent[0] = 0.2
    assert drv._poll_interval() == drv.poll_sec  # just asked, or a byte just came
    silent[0] = 5.0
    assert drv._poll_interval() == drv.waiting_poll_sec > drv.poll_sec
    monkeypatch.setenv("HARNESS_WAIT_LEVERS", "off")
    assert drv._poll_interval() == drv.poll_sec
    assert AgentDriver(_Spec(), ctl=None, box=None)._poll_interval() == drv.poll_sec  # type: ignore[arg-type]
