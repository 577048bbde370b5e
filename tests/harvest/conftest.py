"""The harvest tests' session files, made once per test session by the real CLIs.

``cli_sessions`` runs claude and codex (two sessions each, see realcli.py) and keeps their
files in a session-scoped scratch dir; each test installs its own copy (fake homes + a host
copy of the repo) with ``cli_sessions.install(tmp_path)``, so tests can corrupt, delete and
re-harvest without seeing each other's changes. Tests that use it are marked agents,
docker and slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harvest.realcli import Generated, generate


@pytest.fixture(scope="session")
def cli_sessions(
    docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Generated]:
    from harness import images

    imgs = {
        a: images.ensure_image(docker_client, a, say=lambda _m: None) for a in ("claude", "codex")
    }
    gen = generate(tmp_path_factory.mktemp("cli-sessions"), docker_client, imgs)
    bad = {k: v for k, v in gen.statuses.items() if not v.startswith("passed")}
    assert not bad, f"the real CLIs did not finish their fixture sessions: {bad}"
    for agent in ("claude", "codex"):
        for label in ("fix", "later"):
            assert gen.files.get(agent, {}).get(label), (
                f"{agent} wrote no session file for {label!r}: {gen.files}"
            )
    yield gen


def harvest_cli(*args: str, cwd: Path | None = None) -> Any:
    """``harness harvest ARGS`` as a user runs it (a subprocess): stdout, stderr, exit code."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "harvest", *args],
        cwd=cwd or root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
