"""An agent is one unit: the registry, what each agent declares, and a fake agent (a module,
a Dockerfile folder, one registry line) that runs a real trial."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_agent import FakeProfile

from controllers import profiles
from controllers.profiles import PARSERS, parse_transcript
from controllers.profiles.base import AGENT_HOME, AgentProfile, Variant
from controllers.profiles.claude import ClaudeProfile
from controllers.profiles.codex import CodexProfile
from controllers.profiles.shell import NoopProfile, OracleProfile, ShellProfile
from harness import images
from harness.cli.images_cmd import default_images
from harness.cli.run_cmd import DEFAULT_MODEL
from harness.errors import ConfigError
from harness.gateway.wires import WIRES

FAKE = "fake_agent:FakeProfile"  # tests/agents is on sys.path (see conftest.py's imports)


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The one registry line a new agent adds, undone after the test."""
    monkeypatch.setitem(profiles.REGISTRY, "fake", FAKE)
    yield "fake"


@pytest.fixture(autouse=True)
def _forget_external(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "_EXTERNAL", {})


def test_profiles_conform_to_the_protocol() -> None:
    # typed: mypy proves each class fits AgentProfile; isinstance checks it at run time too
    units: list[AgentProfile] = [ClaudeProfile(), CodexProfile(), OracleProfile(), NoopProfile(),
                                 ShellProfile("bash"), FakeProfile()]
    one: AgentProfile = profiles.get_profile("claude")
    assert all(isinstance(p, AgentProfile) for p in [*units, one])


def test_a_miss_lists_the_known_names() -> None:
    with pytest.raises(ConfigError) as exc:
        profiles.get_profile("claud")
    line = exc.value.one_line()
    assert "unknown agent 'claud'" in line
    assert all(n in line for n in ("claude", "codex", "oracle", "noop", "module:Class"))


def test_a_class_that_is_no_profile_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"lacks spec, .*parse_transcript"):
        profiles.get_profile("collections:OrderedDict")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        profiles.get_profile("no_such_module_x:Agent")


@pytest.mark.parametrize("name", profiles.names())
def test_every_agent_declares_its_unit(name: str) -> None:
    p = profiles.get_profile(name)
    s = p.spec
    assert s.wire_api is None or s.wire_api in WIRES, "a wire the Gateway does not speak"
    assert p.needs_gateway == (s.wire_api is not None)
    assert (s.completion == "shell") == (s.wire_api is None)
    assert bool(s.default_model) == p.needs_gateway
    assert s.image in images.IMAGES and images.plan(s.image, ca_bundle=None).context_dir.is_dir()
    assert all(h.startswith(AGENT_HOME + "/") for h in p.home_state)
    assert s.user_skills_dir and s.memory_file


def test_registry_gives_the_old_tables() -> None:
    # what used to be hard-coded in images.py, run_cmd.py, episode.py and workspace.py
    assert dict(images.IMAGES)["claude"] == ("base", {"CLAUDE_CODE_VERSION": "2.1.197"})
    assert dict(images.IMAGES)["codex"] == ("base", {"CODEX_VERSION": "0.169.0"})
    assert default_images() == ["base", "claude", "codex", "agent-base", "gemini", "opencode",
                                "aider", "qwen"]
    assert dict(DEFAULT_MODEL) == {"claude": "claude-sonnet-4-5", "codex": "gpt-5-codex",
                                   "gemini": "gemini-2.5-pro", "opencode": "gpt-4.1",
                                   "aider": "gpt-4.1", "qwen": "qwen3-coder-plus"}
    assert DEFAULT_MODEL.get("oracle", "model") == "model"
    assert {"claude", "codex", "gemini", "opencode", "aider", "qwen"} <= set(PARSERS)
    old_wipe = (".claude", ".claude.json", ".codex", ".gemini", ".qwen", ".aider", ".aider.conf.yml",
                ".aider.model.metadata.json", ".aider.model.settings.yml", ".agents", ".harness",
                ".cache", ".config", ".local", ".npm")
    assert set(profiles.home_state()) == {f"{AGENT_HOME}/{p}" for p in old_wipe}


def test_a_shared_agent_base_is_planned_from_its_agents() -> None:
    # no list names agent-base: gemini's ImageBuild brings it, with the pinned Node.js
    from controllers.profiles import agent_base

    assert "agent-base" in images.IMAGES and "agent-base" not in images.CORE_IMAGES
    assert dict(images.IMAGES)["agent-base"] == ("base", agent_base.BUILD.build_args)
    g = images.plan("gemini", ca_bundle=None)
    assert g.build_args["BASE_IMAGE"] == images.plan("agent-base", ca_bundle=None).hash_tag
    bumped = images.plan("agent-base", ca_bundle=None, build_args={"NODE_VERSION": "22.0.0"})
    assert bumped.content_hash() != images.plan("agent-base", ca_bundle=None).content_hash()


def test_one_registry_line_reaches_every_list(fake_registered: str, tmp_path: Path) -> None:
    assert "fake" in profiles.names()
    assert "fake-agent" in images.IMAGES and "fake-agent" in default_images()
    p = images.plan("fake-agent", ca_bundle=None)
    assert p.context_dir == Path(__file__).with_name("fake_cli")
    assert p.build_args["FAKE_CLI_VERSION"] == "1.0.0" and p.build_args["BASE_IMAGE"].startswith("harness/base:")
    assert DEFAULT_MODEL["fake"] == "fake-1"
    assert f"{AGENT_HOME}/.fake" in profiles.home_state()
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"user": "hi", "answer": "42"}) + "\n")
    assert parse_transcript("fake", f).final_answer == "42"


def test_an_external_module_class_agent_is_planned_too() -> None:
    p = profiles.get_profile(FAKE)
    assert isinstance(p, FakeProfile) and "fake" not in profiles.REGISTRY
    assert "fake-agent" in images.IMAGES
    assert DEFAULT_MODEL.get(FAKE) == "fake-1"


# ---------------------------------------------------------------- a real trial


@pytest.fixture
def fake_image(docker_client: Any, base_image: str, fake_registered: str) -> Iterator[str]:
    """The fake agent's image, built from its Dockerfile on the base; removed afterwards."""
    tag = images.ensure_image(docker_client, "fake-agent", say=lambda _m: None)
    yield tag
    for t in (tag, images.latest_tag("fake-agent")):
        with contextlib.suppress(Exception):
            docker_client.images.remove(t, noprune=False)


def _suite(root: Path) -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "suite.yaml").write_text('name: fake-suite\nagent: fake\ninclude: ["tasks/*.yaml"]\n')
    (root / "tasks" / "ask.yaml").write_text(
        "schema: harness.task/v1\nid: ask-fake\nprompt: what is six times seven?\ntimeout_sec: 120\n"
        "checks:\n- op: contains\n  value: '42'\n- op: diff_touches\n  paths: [fake-answer.txt]\n")
    return root


def _one_trial(tmp_path: Path, profile: Any) -> tuple[Any, Any]:
    """The fake suite's one task, one trial, run by ``profile`` with no Gateway: its outcome
    and the run's paths."""
    from harness.runner.paths import RunPaths
    from harness.runner.run import Runner, RunOptions, new_run_id
    from harness.runner.store import Store
    from harness.tasks import load_suite

    suite = load_suite(_suite(tmp_path / "suite"))
    run_id = new_run_id()
    paths = RunPaths(tmp_path / "runs", run_id)
    store = Store(tmp_path / "runs" / "harness.db")
    store.create_run(run_id, suite=str(tmp_path / "suite"), agent="fake", model_mode="none", config={})
    opts = RunOptions(agent="fake", variants=[Variant("baseline")], trials=1, concurrency=1,
                      model=DEFAULT_MODEL["fake"], infra_retries=0)
    runner = Runner(suite, opts, paths, store, gateway=None, profile=profile)
    runner.write_run_files({"agent": "fake"})
    (out,) = runner.run()
    return out, paths


@pytest.mark.docker
@pytest.mark.tmux
@pytest.mark.slow
def test_a_registered_fake_agent_runs_a_trial(fake_image: str, fake_registered: str, tmp_path: Path) -> None:
    profile = profiles.get_profile(fake_registered)  # the name the suite gives
    assert not profile.needs_gateway  # no wire API: the runner starts no Gateway
    out, paths = _one_trial(tmp_path, profile)
    rec = out.record
    assert rec.status == "passed", (rec.reason, out.extra)
    assert [c.passed for c in rec.check_results] == [True, True]
    assert out.extra["turns"][0]["how"] == "signal"  # its completion hook ended the turn
    ep = json.loads(paths.trial("ask-fake", "baseline", 0).episode.read_text())
    assert ep["agent"] == "fake" and ep["turns"][0]["user_text"] == "what is six times seven?"
    assert ep["turns"][0]["final_text"] == "the answer is 42"


class _NeverReady(FakeProfile):
    """The fake CLI, watched for a prompt it never draws, with a 3 s start-up budget."""

    spec = replace(FakeProfile.spec, idle=(r"^a prompt this CLI never draws$",), startup_sec=3.0)


@pytest.mark.docker
@pytest.mark.tmux
def test_a_cli_that_misses_its_start_up_budget_is_the_agents_failure(fake_image: str, fake_registered: str,
                                                                      tmp_path: Path) -> None:
    out, paths = _one_trial(tmp_path, _NeverReady())
    assert out.record.status == "agent_error"
    assert out.record.reason.startswith("fake did not show its input prompt within 3s"), out.record.reason
    assert "fake>" in paths.trial("ask-fake", "baseline", 0).pane.read_text()  # its screen, kept
