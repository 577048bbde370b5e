"""The ray executor's parts that need no cluster: placement, the sealed key, version and
address checks, the attach command for another host."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.errors import ConfigError
from harness.executors.ray_exec import cluster
from harness.executors.ray_exec.agent import remote_command
from harness.executors.ray_exec.placement import Placement
from harness.executors.ray_exec.secret import Unwrapper, seal
from harness.runner.config import RunConfig

pytestmark = pytest.mark.ray


def _plans(tasks: dict[str, int]) -> list[SimpleNamespace]:
    out = []
    for t, n in tasks.items():
        for a in range(n):
            p = SimpleNamespace(task=SimpleNamespace(id=t), variant=SimpleNamespace(name="v"), attempt=a)
            p.key = (t, "v", a)
            out.append(p)
    return out


def test_a_task_goes_to_the_node_holding_its_warm_sandbox() -> None:
    place = Placement(_plans({"a": 3, "b": 3}))  # type: ignore[arg-type]
    first = place.take("n1")
    assert first is not None
    place.finished(first)
    place.warm["n1"] = {first.task.id}
    assert place.take_warm("n2") is None             # n2 holds nothing warm
    again = place.take("n1")
    assert again is not None and again.task.id == first.task.id
    other = place.take("n2")                          # n2 spreads to the task nobody holds
    assert other is not None and other.task.id != first.task.id


def test_nodes_spread_over_tasks_then_share_the_last_one() -> None:
    place = Placement(_plans({"a": 2, "b": 1}))  # type: ignore[arg-type]
    got = [place.take(n) for n in ("n1", "n2", "n3")]
    assert [p.task.id for p in got if p] == ["a", "b", "a"]
    assert place.take("n1") is None and len(place) == 0


def test_a_retry_waits_for_its_backoff_then_comes_first() -> None:
    plans = _plans({"a": 2})
    place = Placement(plans)  # type: ignore[arg-type]
    p = place.take("n1")
    assert p is not None
    place.push(p, time.monotonic() + 60)
    q = place.take("n1")
    assert q is not None and q.attempt == 1 and place.take("n1") is None  # not yet due
    place.push(p, 0.0)
    assert place.take("n2") is p


def test_a_sealed_key_opens_only_for_its_agent_and_never_shows() -> None:
    agent, other = Unwrapper(), Unwrapper()
    box = seal("sk-ant-secret-123", agent.public)
    assert b"sk-ant-secret-123" not in repr(box).encode() and b"secret" not in box[1]
    assert agent.open(box) == "sk-ant-secret-123"
    with pytest.raises(ValueError, match="not made for this node agent"):
        other.open(box)
    assert "_private" not in repr(agent) and str(agent._private) not in repr(agent)


def test_a_ray_version_differing_on_a_node_is_one_line() -> None:
    cluster.check_versions("2.60.0", [{"node": "a", "ray": "2.60.0"}])
    with pytest.raises(ConfigError) as err:
        cluster.check_versions("2.60.0", [{"node": "a", "ray": "2.60.0"}, {"node": "10.0.0.7/ab", "ray": "2.49.1"}])
    line = err.value.one_line()
    assert "10.0.0.7/ab runs Ray 2.49.1" in line and "ray==2.60.0" in line and "\n" not in line


def test_ray_not_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError) as err:
        cluster.import_ray()
    assert "pip install 'agent-replay-harness[ray]'" in err.value.one_line()


def test_an_address_that_does_not_answer_is_one_line() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError) as err:
        cluster.probe(f"127.0.0.1:{port}", timeout_sec=2)
    assert f"127.0.0.1:{port} does not answer" in err.value.one_line()
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        cluster.probe("nohost")


def test_the_attach_command_names_the_other_hosts_engine() -> None:
    cmd = "docker exec -i -t c1 tmux attach"
    assert remote_command(cmd, "10.0.0.7", "10.0.0.7", "unix:///var/run/docker.sock") == cmd
    assert remote_command(cmd, "10.0.0.8", "10.0.0.7", "unix:///var/run/docker.sock") == \
        f"DOCKER_HOST=ssh://10.0.0.8 {cmd}"
    assert remote_command(cmd, "10.0.0.8", "10.0.0.7", "tcp://10.0.0.8:2375") == f"DOCKER_HOST=tcp://10.0.0.8:2375 {cmd}"


def test_the_executor_is_kept_for_resume_and_checked() -> None:
    cfg = RunConfig.build(suite="s", executor="ray", ray_address="127.0.0.1:6379")
    assert RunConfig.from_stored(cfg.stored()).executor == "ray"
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        RunConfig.build(suite="s", ray_address="127.0.0.1:6379").check()
    with pytest.raises(ConfigError, match="record writes one cassette"):
        RunConfig.build(suite="s", executor="ray", model_mode="record").check()
    with pytest.raises(ConfigError, match="--executor"):
        RunConfig.build(suite="s", executor="k8s")


def test_nightly_config_takes_the_executor_and_hands_it_to_each_run(tmp_path: Path) -> None:
    from harness.nightly.config import NightlyConfig

    cfg = NightlyConfig.model_validate({"project": str(tmp_path), "targets": ["CLAUDE.md"],
                                        "executor": "ray", "ray_address": "127.0.0.1:6379"})
    assert (cfg.executor, cfg.ray_address) == ("ray", "127.0.0.1:6379")
    assert NightlyConfig.model_validate({"project": str(tmp_path), "targets": ["x"]}).executor == "local"


def test_the_suite_sent_to_other_hosts_keeps_gitignore_and_drops_git_and_caches(tmp_path: Path) -> None:
    """Found by the rig's bench: a filter on "/.git" dropped ``repo/.gitignore``, so a
    worker's workspaces showed pytest's ``__pycache__`` in every diff and failed their checks."""
    import io
    import tarfile

    from harness.executors.ray_exec.driver import _suite_tar

    repo = tmp_path / "suite" / "repo"
    for rel in ("tests/__pycache__/t.cpython-311.pyc", ".git/HEAD", "tests/test_x.py", "x.py"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    (tmp_path / "suite" / ".github").mkdir()
    (tmp_path / "suite" / ".github" / "ci.yml").write_text("on: push\n")
    data = _suite_tar(SimpleNamespace(suite=SimpleNamespace(root=str(tmp_path / "suite"))))  # type: ignore[arg-type]
    assert data is not None
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        files = {m.name for m in tf.getmembers() if m.isfile()}
    assert files == {"./repo/.gitignore", "./repo/tests/test_x.py", "./repo/x.py", "./.github/ci.yml"}
