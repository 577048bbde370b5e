"""Session fixtures shared by every test layer.

Why fail instead of skip under CI: a CI run that silently skipped the real-engine tests is a
green light that proved nothing. Outside CI a missing engine / tmux skips with one line.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the checkout, read in place (never copied). A clone made
    elsewhere (a temp dir, a CI workspace) finds it beside the repo it was cloned from, or
    where ``HARNESS_SHARED_FIXTURES`` says."""
    import subprocess

    env = os.environ.get("HARNESS_SHARED_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "fixtures")
    try:
        origin = subprocess.run(["git", "-C", str(REPO_ROOT), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        origin = ""
    if origin and "://" not in origin and ":" not in origin.split("/")[0]:  # a local path
        candidates.append(Path(origin).resolve().parent / "shared" / "fixtures")
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED_FIXTURES = _shared_fixtures()


def need(condition: bool, reason: str) -> None:
    """Skip outside CI, fail in CI, when a real dependency is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A docker SDK client for the engine the harness would use (DOCKER_HOST / context aware)."""
    from harness import engine
    from harness.errors import EngineError

    try:
        c = engine.client(timeout_sec=300)
    except EngineError as exc:
        need(False, f"no Docker engine: {exc.one_line()}")
        raise
    _sweep_test_containers(c)
    yield c
    c.close()


#: the kinds of container the tests' own fixtures make (``harness gc`` sweeps only the
#: product's kinds): each carries owner labels, so a session's start removes what a killed
#: test run left behind and keeps what a live one (the other xdist worker) still uses
TEST_KINDS = ("test", "test-dind", "test-controller")


def owner_label_args(kind: str) -> list[str]:
    """``docker run`` arguments for the owner labels of a test container of ``kind``."""
    from controllers.sandbox.owner import owner_labels

    return [a for k, v in owner_labels(f"tests-{kind}", kind=kind).items()
            for a in ("--label", f"{k}={v}")]


def _sweep_test_containers(client: Any) -> None:
    from controllers.sandbox import gc

    try:
        gone = gc.sweep(client, kinds=TEST_KINDS)
    except Exception as exc:  # noqa: BLE001 - a sweep must not stop the session
        print(f"[tests] could not sweep leftover test containers: {exc}")
        return
    for r in gone:
        print(f"[tests] removed a killed test run's {r.line()}")


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The harness base image tag, built once per session (reused when its hash matches)."""
    from harness import images

    if not images.image_exists(docker_client, images.DEBIAN_TAG):
        need(False, f"{images.DEBIAN_TAG} missing: run `harness images bootstrap`")
    return images.ensure_image(docker_client, "base", say=lambda _m: None)


@pytest.fixture(scope="session")
def tmux_bin() -> str:
    path = shutil.which("tmux")
    need(path is not None, "tmux is not installed")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """../shared/fixtures, read in place (never copied into the repo)."""
    need(SHARED_FIXTURES.is_dir(), f"{SHARED_FIXTURES} is absent (clone outside this setup)")
    return SHARED_FIXTURES


# ---------------------------------------------------------------- extended cases
#: agents whose slow matrix cases are ``extended``: the same kinds run in every CI for claude,
#: codex and gemini; these agents' own end-to-end modules, demo run, text and tool turns,
#: skill, record/replay and network cases always run
EXTENDED_AGENTS = ("opencode", "qwen", "aider")
#: the slow kinds: fault wrecks (a fresh CLI start each), 529 retry timings (a CLI's own retry
#: window: up to 170 s for qwen), the silent 20-second tool
EXTENDED_CASES = ("tests/agents/test_faults.py::", "tests/agents/test_trials.py::test_529_",
                  "tests/agents/test_completion.py::test_tool_turn_done_after_tool")
#: ``HARNESS_TESTS=all`` runs the extended cases too
RUN_ALL = os.environ.get("HARNESS_TESTS", "").lower() == "all"


def _is_extended(item: pytest.Item) -> bool:
    if item.get_closest_marker("extended") is not None:
        return True
    nodeid = item.nodeid
    if not nodeid.startswith(EXTENDED_CASES):
        return False
    params = nodeid.partition("[")[2]
    return any(params.startswith(a) for a in EXTENDED_AGENTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip) the ``extended`` cases unless ``HARNESS_TESTS=all``: they repeat,
    for more agents, kinds every run already covers, and the whole suite must fit CI's time."""
    if RUN_ALL:
        return
    keep, dropped = [], []
    for it in items:
        (dropped if _is_extended(it) else keep).append(it)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep

