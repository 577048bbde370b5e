"""Tool shims inside the real base image (Debian slim: dash, mawk, no Python), as installed
by the runner: shims in SHIM_DIR on PATH, data under DATA_DIR, calls in LOG_PATH."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controllers.sandbox import DockerSandbox, DockerSandboxConfig
from harness.tasks import (
    DATA_DIR,
    LOG_PATH,
    SHIM_DIR,
    Task,
    read_tools_log,
    render_tool_shims,
    tool_data,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def box(docker_client: Any, base_image: str) -> Iterator[DockerSandbox]:
    cfg = DockerSandboxConfig(image=base_image, run_id=f"test-{uuid.uuid4().hex[:6]}")
    with DockerSandbox(cfg, client=docker_client) as b:
        yield b


def install(box: DockerSandbox, task: Task) -> dict[str, str]:
    box.exec(["mkdir", "-p", SHIM_DIR, DATA_DIR], user="root")
    box.exec(["chown", "-R", "agent:agent", "/harness"], user="root")
    for name, text in render_tool_shims(task).items():
        box.write_file(f"{SHIM_DIR}/{name}", text, mode=0o755)
    for rel, src in tool_data(task).items():
        box.exec(["mkdir", "-p", str(Path(f"{DATA_DIR}/{rel}").parent)])
        box.write_file(f"{DATA_DIR}/{rel}", src.read_bytes())
    return {"PATH": f"{SHIM_DIR}:/usr/local/bin:/usr/bin:/bin"}


def test_shims_in_the_base_image(box: DockerSandbox, shared_fixtures: Path) -> None:
    pages = shared_fixtures / "gbrain-evals/skillopt-v1/seed-no-brain-first/brain"
    task = Task.model_validate({"id": "t", "prompt": "p", "tools": [
        {"name": "search", "search": {"pages": str(pages)}},
        {"name": "ticket", "output": "TICKET-7\n"},
        {"name": "gh", "responses": [{"match": "^pr list", "output": "#1\n"}], "default": "?"},
    ]})
    env = install(box, task)
    r = box.exec(["sh", "-c", 'search "whether to raise a bridge round or cut burn"'], env=env)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].startswith(
        "[topics/whether-to-raise-a-bridge-round-or-cut-burn] ")
    assert box.exec(["ticket", 'a "quoted"\targ'], env=env).stdout == "TICKET-7\n"
    assert box.exec(["gh", "pr", "list"], env=env).stdout == "#1\n"
    calls = read_tools_log(box.read_file(LOG_PATH).decode())
    assert [(c["tool"], c["args"]) for c in calls] == [
        ("search", ["whether to raise a bridge round or cut burn"]),
        ("ticket", ['a "quoted"\targ']),
        ("gh", ["pr", "list"]),
    ]
