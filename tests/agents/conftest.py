"""Fixtures for the real-CLI tests: one warm container per agent per module (see
agent_rig.py for why), both agent images built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agent_rig import AGENTS, MODELS, Rig, scripted_rig

from harness import images


@pytest.fixture(scope="session")
def agent_images(docker_client: Any) -> dict[str, str]:
    """Every real CLI's image, built (or found by content hash) once per session."""
    return {a: images.ensure_image(docker_client, a, say=lambda _m: None) for a in MODELS}


@pytest.fixture(scope="module", params=AGENTS)
def rig(request: pytest.FixtureRequest, docker_client: Any, agent_images: dict[str, str]) -> Iterator[Rig]:
    agent = request.param
    with scripted_rig(agent, agent_images[agent], docker_client) as r:
        yield r


@pytest.fixture
def fresh(rig: Rig) -> Iterator[Rig]:
    """The module's rig, with this test's CLI sessions closed when it ends."""
    yield rig
    rig.close_sessions()
