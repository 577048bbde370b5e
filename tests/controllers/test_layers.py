"""The tmux layer imports downwards only, and the controller's name is provider-neutral."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import controllers.tmux as tmux_pkg
from controllers.tmux import SandboxTmuxController
from controllers.tmux.hosts import ContainerHost

PACKAGE = "controllers.tmux"


def _imports(path: Path) -> set[str]:
    """Every controllers.tmux module ``path`` imports anywhere: top level, inside functions,
    under ``TYPE_CHECKING`` (a circle hidden there is still a circle)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                found.add(name[len(PACKAGE) + 1:].split(".")[0])
    return found


def _graph() -> dict[str, set[str]]:
    root = Path(tmux_pkg.__file__).parent
    modules = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    return {m: (_imports(root / f"{m}.py") & modules) - {m} for m in modules}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_tmux_modules_import_downwards_only() -> None:
    graph = _graph()
    assert {"base", "control", "controller", "transport", "waits", "shell"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    # the two circles issue 11 names, by name
    assert "transport" not in graph["control"] and "control" not in graph["transport"]
    assert "controller" not in graph["waits"] | graph["shell"]
    assert graph["base"] == set()  # the shared words depend on nothing in the layer


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_sandbox_controller_is_provider_neutral_and_the_old_name_still_works() -> None:
    with pytest.warns(DeprecationWarning, match="use SandboxTmuxController"):
        from controllers.tmux import DockerTmuxController
    assert DockerTmuxController is SandboxTmuxController
    with pytest.warns(DeprecationWarning, match="use SandboxTmuxController"):
        from controllers.tmux.controller import DockerTmuxController as old_path
    assert old_path is SandboxTmuxController

    class PrefixSandbox:
        """Not Docker: any sandbox that names the host argv running a command in it."""

        def host_argv(self, cmd: list[str], *, interactive: bool = False, tty: bool = False,
                      user: str | None = None) -> list[str]:
            return ["ssh", "node-7", "--", *cmd]

    ctl = SandboxTmuxController(PrefixSandbox(), socket_path="/s.sock")
    assert ctl.host.argv(["tmux", "ls"]) == ["ssh", "node-7", "--", "tmux", "ls"]
    assert isinstance(SandboxTmuxController("abc123").host, ContainerHost)
    with pytest.raises(TypeError, match="SandboxTmuxController needs a sandbox"):
        SandboxTmuxController(None)
