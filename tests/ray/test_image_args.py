"""ray-node's dependency layer is keyed on the runtime dependency list, not on the code.

Pure checks (no engine): the build args carry pyproject's ``[project] dependencies`` and the
Ray pin; the image's content hash moves with that list and stays put when the harness's
code changes (the code reaches nodes through Ray's runtime_env, not the image).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness import images

REPO = Path(images.__file__).resolve().parents[1]


def test_build_args_carry_the_runtime_dependencies_and_the_ray_pin() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    args = images.ray_node_build_args()
    assert args["RUNTIME_DEPS"].split("|") == [d.replace(" ", "") for d in deps]
    assert args["RAY_VERSION"] == images.RAY_VERSION
    assert images.IMAGES["ray-node"] == ("dind", args)


def test_hash_moves_with_the_dependency_list_not_the_code() -> None:
    p = images.plan("ray-node", ca_bundle=None)
    # what the hash reads: the image's own folder and args; no harness source goes in
    assert sorted(p.files) == ["Dockerfile", "extra-ca.crt", "ray-node-entry.sh"]
    more = images.plan("ray-node", ca_bundle=None,
                       build_args={"RUNTIME_DEPS": p.build_args["RUNTIME_DEPS"] + "|extra-dep"})
    assert more.content_hash() != p.content_hash()
    again = images.plan("ray-node", ca_bundle=None)
    assert again.content_hash() == p.content_hash()


def test_installed_metadata_is_the_fallback_without_a_source_tree(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib import metadata

    monkeypatch.setattr(images, "REPO_ROOT", tmp_path)  # no pyproject.toml there
    monkeypatch.setattr(metadata, "requires",
                        lambda _n: ["docker>=7", "pytest; extra == \"test\"", "pyte>=0.8"])
    assert images.runtime_dependencies() == ["docker>=7", "pyte>=0.8"]
