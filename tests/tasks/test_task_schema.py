"""The harness.task/v1 models: shapes accepted and refused, and what the runner asks of a Task."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.tasks import Task, Workspace


def task(**kw: object) -> Task:
    return Task.model_validate({"id": "t1", "prompt": "do it", **kw})


def test_minimal_task_defaults() -> None:
    t = task()
    assert t.split == "train"
    assert t.timeout_sec == 900
    assert t.prompt_turns() == ["do it"]
    assert t.workspace_source().kind == "empty"


def test_prompt_xor_turns() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'prompt' or 'turns'"):
        Task.model_validate({"id": "t", "prompt": "a", "turns": ["b"]})
    with pytest.raises(ValidationError, match="exactly one of 'prompt' or 'turns'"):
        Task.model_validate({"id": "t"})
    with pytest.raises(ValidationError, match="non-empty"):
        Task.model_validate({"id": "t", "turns": []})


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="promt"):
        Task.model_validate({"id": "t", "prompt": "a", "promt": "b"})


@pytest.mark.parametrize("bad", ["", "has space", "../up", "a/b", "-lead"])
def test_id_must_name_a_folder(bad: str) -> None:
    with pytest.raises(ValidationError):
        task(id=bad)


def test_split_values() -> None:
    assert task(split="frozen").split == "frozen"
    with pytest.raises(ValidationError):
        task(split="test")


def test_agent_overrides() -> None:
    t = task(timeout_sec=60, checks=[{"op": "no_refusal"}], agents={
        "codex": {"turns": ["one", "two"], "timeout_sec": 120,
                  "checks": [{"op": "max_turns", "value": 3}]},
        "claude": {"prompt": "claude wording"},
    })
    assert t.prompt_turns("codex") == ["one", "two"]
    assert t.prompt_turns("claude") == ["claude wording"]
    assert t.prompt_turns("shell") == ["do it"]
    assert t.timeout_for("codex") == 120 and t.timeout_for("claude") == 60
    assert [c["op"] for c in t.checks_for("codex")] == ["no_refusal", "max_turns"]
    assert t.checks_for(None) == [{"op": "no_refusal"}]


def test_workspace_shorthand_and_resolution(tmp_path: Path) -> None:
    t = task(workspace="repo").bind(tmp_path)
    assert t.workspace == Workspace(path="repo")
    src = t.workspace_source()
    assert src.kind == "dir" and src.path == (tmp_path / "repo").resolve()

    g = task(workspace={"git": "https://example.invalid/x.git", "ref": "v1"}).workspace_source()
    assert (g.kind, g.url, g.ref) == ("git", "https://example.invalid/x.git", "v1")
    local = task(workspace={"git": "../other", "ref": "main"}).bind(tmp_path).workspace_source()
    assert local.url == str((tmp_path / "../other").resolve())
    assert task(workspace="git@host:org/repo.git").workspace.git == "git@host:org/repo.git"


def test_workspace_needs_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'path'"):
        task(workspace={"path": "a", "git": "b"})
    with pytest.raises(ValidationError, match="'ref' only applies"):
        task(workspace={"path": "a", "ref": "main"})


def test_tool_needs_exactly_one_behaviour() -> None:
    with pytest.raises(ValidationError, match="got output, script"):
        task(tools=[{"name": "x", "output": "a", "script": "echo"}])
    with pytest.raises(ValidationError, match="exactly one of"):
        task(tools=[{"name": "x"}])
    with pytest.raises(ValidationError, match="duplicate tool names: x"):
        task(tools=[{"name": "x", "output": "a"}, {"name": "x", "output": "b"}])
    with pytest.raises(ValidationError, match="must match"):
        task(tools=[{"name": "rm -rf", "output": "a"}])


@pytest.mark.parametrize("pattern,why", [("(", "invalid regex"), (r"\d+", "grep -E"),
                                         ("(?i)abc", "grep -E")])
def test_tool_response_regex_must_work_in_grep(pattern: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        task(tools=[{"name": "x", "responses": [{"match": pattern, "output": "o"}]}])


def test_policy_is_opaque(tmp_path: Path) -> None:
    assert task(policy={"anything": [1, 2]}).policy_source() == {"anything": [1, 2]}
    assert task(policy="p.yaml").bind(tmp_path).policy_source() == tmp_path.resolve() / "p.yaml"


def test_oracle_script(tmp_path: Path) -> None:
    (tmp_path / "solve.sh").write_text("echo hi\n")
    assert task(oracle="solve.sh").bind(tmp_path).oracle_script() == "echo hi\n"
    assert task().oracle_script() is None


def test_environment_source(tmp_path: Path) -> None:
    assert task().environment_source() is None
    only_image = task(image="my/img:1").environment_source()
    assert only_image is not None and (only_image.image, only_image.dockerfile) == ("my/img:1", None)
    built = task(dockerfile="env/Dockerfile").bind(tmp_path).environment_source()
    assert built is not None and built.context == (tmp_path / "env").resolve()
    assert task().tests_source() is None
