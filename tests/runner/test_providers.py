"""The sandbox provider seam: providers found by name, and the runner running the demo suite
on a provider a test registers (the local one, under a new name), not only on Docker.

Why ``noop``: the demo tasks have no oracle script, and noop needs no model. An untouched
demo workspace has an answer we know on every provider: each task's tests fail on its bug
(pytest really ran there), ``diff_touches`` fails (no diff), ``tests untouched`` passes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest

from controllers.profiles import get_profile
from controllers.profiles.base import Variant
from harness import providers
from harness.errors import ConfigError
from harness.providers.base import SandboxRequest
from harness.providers.local import NO_REUSE, LocalProvider, LocalTaskSandbox
from harness.runner.paths import RunPaths
from harness.runner.run import Runner, RunOptions, TrialOutcome
from harness.runner.store import Store
from harness.tasks import load_suite
from tests.runner.conftest import DEMO

ROOT_DIRS = ("/harness", "/opt/harness", "/home/agent")


class ScratchProvider(LocalProvider):
    """A provider a test adds: the local one under another name, counting its sandboxes."""

    created: ClassVar[list[str]] = []

    def create(self, req: SandboxRequest) -> LocalTaskSandbox:
        sb = super().create(req)
        ScratchProvider.created.append(sb.base)
        return sb


def test_a_miss_names_the_known_providers() -> None:
    with pytest.raises(ConfigError) as err:
        providers.get_provider("kubernetes")
    assert "docker" in err.value.one_line() and "local" in err.value.one_line()


def test_module_class_is_accepted_and_checked() -> None:
    assert isinstance(providers.get_provider("harness.providers.local:LocalProvider"), LocalProvider)
    with pytest.raises(ConfigError, match="lacks ensure_image, create, sweep, describe"):
        providers.get_provider("harness.providers.base:ProviderBase")


def _run(suite: Any, runs: Path, provider: str, agent: str = "noop") -> list[TrialOutcome]:
    with Store(runs / "harness.db") as store:
        store.create_run("prov-run", suite=str(DEMO), agent=agent, model_mode="none", config={})
        opts = RunOptions(agent=agent, variants=[Variant("baseline"), Variant("candidate")], trials=1,
                          concurrency=2, infra_retries=0, provider=provider)
        return Runner(suite, opts, RunPaths(runs, "prov-run"), store, gateway=None,
                      profile=get_profile(agent)).run()


def _processes_in(dirs: list[str]) -> list[str]:
    """Command lines of live processes that name one of ``dirs`` (a tmux server's socket)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found += [cmd[:200] for d in dirs if d in cmd]
    return found


def _checks(out: TrialOutcome) -> list[tuple[str, bool]]:
    return [(c.name, c.passed) for c in out.record.check_results]


@pytest.mark.tmux
@pytest.mark.slow
def test_the_demo_suite_runs_on_a_registered_local_provider(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(providers.REGISTRY, "scratch", f"{__name__}:ScratchProvider")
    ScratchProvider.created.clear()
    before = {d: Path(d).exists() for d in ROOT_DIRS}
    suite = load_suite(DEMO)
    outs = _run(suite, tmp_path, "scratch")
    assert len(outs) == 2 * len(suite.tasks) == 10
    assert len(ScratchProvider.created) == 10  # a fresh directory for every trial
    for o in outs:
        rec, where = o.record, o.extra["sandbox"]
        assert rec.status == "failed", (rec.task_id, rec.status, rec.reason)  # the checks ran, not machinery
        assert where.startswith("local directory ") and "no isolation" in where
        checks = dict(_checks(o))
        assert checks.pop("tests untouched") is True
        assert checks.pop("diff_touches") is False
        ((_, tests_passed),) = checks.items()  # the task's own tests, on its bug
        assert tests_passed is False and "failed" in rec.reason, rec.reason
        if o.extra.get("fresh_reason"):
            assert o.extra["fresh_reason"] == NO_REUSE  # never a warm reuse
        assert o.extra["warm"] is False
    assert not [d for d in ScratchProvider.created if Path(d).exists()], "every directory removed"
    assert not _processes_in(ScratchProvider.created), "every agent's tmux server ended"
    assert {d: Path(d).exists() for d in ROOT_DIRS} == before, "nothing written at the machine's /"


#: the demo's median fix, as the oracle (reference solution) of a copy of its first task
SOLUTION = """cd "$TASK_WORKDIR" && python3 - <<'PY'
import pathlib
p = pathlib.Path("textstats.py")
p.write_text(p.read_text().replace(
    "    return ordered[len(ordered) // 2]\\n",
    "    n, mid = len(ordered), len(ordered) // 2\\n"
    "    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2\\n"))
PY
"""


def _median_with_oracle(dest: Path) -> Any:
    shutil.copytree(DEMO, dest)
    task = dest / "tasks" / "01-median.yaml"
    task.write_text(task.read_text() + "oracle: solution.sh\n")
    (dest / "tasks" / "solution.sh").write_text(SOLUTION)
    return load_suite(dest).select(ids=["fix-median"])


@pytest.mark.tmux
@pytest.mark.slow
def test_the_oracle_passes_on_the_local_provider(tmp_path: Path) -> None:
    """The agent's own command runs in the local workspace and the checks see its diff."""
    outs = _run(_median_with_oracle(tmp_path / "suite"), tmp_path / "runs", "local", agent="oracle")
    assert [o.record.status for o in outs] == ["passed", "passed"], [o.record.reason for o in outs]
    assert not _processes_in([o.extra["sandbox"].split()[2] for o in outs])


@pytest.mark.docker
@pytest.mark.tmux
@pytest.mark.slow
def test_local_gives_the_checks_docker_gives(tmp_path: Path, docker_client: Any) -> None:
    """The oracle of one demo task on both providers: the same checks pass and fail."""
    suite = _median_with_oracle(tmp_path / "suite")
    local = _run(suite, tmp_path / "local", "local", agent="oracle")
    docker = _run(suite, tmp_path / "docker", "docker", agent="oracle")

    def by_variant(outs: list[TrialOutcome]) -> list[list[tuple[str, bool]]]:
        return [_checks(o) for o in sorted(outs, key=lambda o: o.record.variant)]

    assert by_variant(local) == by_variant(docker) == [[("median tests pass", True), ("diff_touches", True),
                                                        ("tests untouched", True)]] * 2
    assert all(o.extra["sandbox"].startswith("docker container ") for o in docker)


def test_a_wrong_provider_name_fails_before_the_run_starts() -> None:
    with pytest.raises(ConfigError, match="unknown sandbox provider 'k8s'"):
        RunOptions(agent="noop", variants=[Variant("baseline")], provider="k8s")


def _oracle(policy: dict[str, Any], fn: str) -> str:
    """A solution script for the demo task on ``fn`` that does what the demo's scripted model
    does, taken from its own rules: with the candidate skill installed, the plausible edit and
    then the real fix; with the live one, only the plausible edit. The skill is looked up
    next to the script (``/harness/..`` in a container, ``<dir>/root/harness/..`` locally), so
    the same file works on both providers."""
    shells = {r["name"]: r["reply"]["calls"][0]["shell"] for r in policy["rules"]
              if r.get("reply", {}).get("calls")}
    quick, fix = shells[f"{fn}: quick edit"], shells[f"{fn}: verified, fix after a failure"]
    return (f'root="$(cd "$(dirname "$0")/.." && pwd)"\ncd "$TASK_WORKDIR"\n{quick}\n'
            'if grep -qs "^name: fix-bugs-verified" '
            f'"$root"/home/agent/.agents/skills/*/SKILL.md; then\n'
            f"{fix}\nfi\n")


def _demo_with_oracles(dest: Path) -> Path:
    """The demo suite, unchanged but for an oracle per task (see ``_oracle``)."""
    import yaml

    shutil.copytree(DEMO, dest)
    policy = yaml.safe_load((dest / "policy.yaml").read_text())
    for task in sorted((dest / "tasks").glob("*.yaml")):
        fn = yaml.safe_load(task.read_text())["prompt"].split("(", 1)[0].split()[-1]
        (task.parent / f"{task.stem}.sh").write_text(_oracle(policy, fn))
        task.write_text(task.read_text() + f"oracle: {task.stem}.sh\n")
    return dest


Checks = dict[tuple[str, str, int], list[tuple[str, bool | None]]]


def _gated_run(suite: Path, runs: Path, provider: str) -> tuple[dict[str, Any], Checks]:
    """``harness run SUITE --agent oracle --provider P --gate`` (the real CLI): its summary, and
    each trial's check results from its ``result.json``."""
    from tests.runner.conftest import harness_cli, summary

    r = harness_cli("run", str(suite), "--agent", "oracle", "--provider", provider, "--runs-dir",
                    str(runs), "--gate", "--gate-policy", str(suite / "gate.yaml"), "-j", "2",
                    "--json")
    s = summary(r)
    assert r.returncode == 0, \
        f"{provider}: gate exit {r.returncode}: {s['reasons']}\n{r.stderr[-3000:]}"
    checks = {}
    for t in s["trials"]:
        result = Path(s["run_dir"], t["task"], t["variant"], str(t["attempt"]), "result.json")
        rec = json.loads(result.read_text())["record"]
        checks[(t["task"], t["variant"], t["attempt"])] = [(c["name"], c["passed"])
                                                           for c in rec["check_results"]]
    return s, checks


@pytest.mark.docker
@pytest.mark.tmux
@pytest.mark.slow
def test_the_demo_suite_is_scored_and_gated_alike_on_local_and_docker(tmp_path: Path,
                                                                      docker_client: Any) -> None:
    """The whole demo suite (5 tasks x 2 variants x its 2 attempts) through `harness run
    --gate` on the local provider and on Docker: every trial's checks, its status, pass@k and
    the gate's decision and interval come out the same. (The agent is the oracle: the real
    claude CLI runs on this host, but its profile puts its home, hook and state at in-container
    paths the local provider does not rewrite: ``LocalProvider.ensure_image`` refuses it.)"""
    suite = _demo_with_oracles(tmp_path / "suite")
    local, local_checks = _gated_run(suite, tmp_path / "local", "local")
    docker, docker_checks = _gated_run(suite, tmp_path / "docker", "docker")

    assert len(local_checks) == 5 * 2 * 2 and local_checks == docker_checks
    for (task, variant, _), checks in local_checks.items():
        tests_pass = checks[0][1]
        assert tests_pass is (variant == "candidate"), (task, variant, checks)  # the skill mattered
    statuses = {p: sorted((t["task"], t["variant"], t["attempt"], t["status"]) for t in s["trials"])
                for p, s in (("local", local), ("docker", docker))}
    assert statuses["local"] == statuses["docker"]
    assert local["pass_at_k"] == docker["pass_at_k"] == {"baseline": {"1": 0.0, "2": 0.0},
                                                         "candidate": {"1": 1.0, "2": 1.0}}
    assert local["decision"] == docker["decision"] == "accept", \
        (local["reasons"], docker["reasons"])

    def interval(s: dict[str, Any]) -> list[str]:
        return [r for r in s["reasons"] if "CI [" in r]

    assert interval(local) and interval(local) == interval(docker)


def test_the_local_provider_refuses_an_agent_with_its_own_image() -> None:
    """claude's and codex's profiles need their image's paths: refused in one line, before any
    trial (the shell agents' image is this machine's tools)."""
    local = LocalProvider()
    assert local.ensure_image(get_profile("oracle").spec.image) == "base"
    for agent in ("claude", "codex"):
        with pytest.raises(ConfigError,
                           match=f"cannot run an agent that needs image '{agent}'") as err:
            local.ensure_image(get_profile(agent).spec.image)
        assert "--provider docker" in err.value.one_line()


def test_a_temp_dir_too_long_for_the_tmux_socket_is_refused_before_anything_is_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tmux would fail at the trial's start with "File name too long" (a unix socket path has
    at most 107 bytes); the local provider says which setting to change, and makes nothing."""
    from controllers.sandbox import SandboxLimits

    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    task = load_suite(DEMO).tasks[0]
    with pytest.raises(ConfigError, match="too long for a trial's tmux socket") as err:
        LocalProvider().create(SandboxRequest(task, image="", workdir="", run_id="r",
                                              limits=SandboxLimits()))
    assert "TMPDIR" in err.value.one_line()
    assert list(deep.iterdir()) == []
