"""The Gateway's modules import in one direction only (wires and views at the bottom, the
Gateway on top): no circle, not even through ``TYPE_CHECKING`` imports."""

from __future__ import annotations

import ast
from pathlib import Path

import harness.gateway

PKG = Path(harness.gateway.__file__).parent


def _module(path: Path) -> str:
    parts = ["harness", *path.relative_to(PKG.parent).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Direct imports between modules of harness.gateway (a package counts as its
    ``__init__``; the package importing its own submodules is not an edge back)."""
    mods = {_module(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] \
                    if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                names = [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                target, names = "", [a.name for a in node.names]
            else:
                continue
            for name in [*names, target]:
                if name in mods and name != mod and not mod.startswith(name + "."):
                    graph[mod].add(name)
                    break
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := visit(n, [*path, n])):
                return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_the_gateway_has_no_import_circle() -> None:
    graph = _graph()
    assert "harness.gateway.wires.anthropic" in graph["harness.gateway.wires"]
    assert "harness.gateway.httpd" in graph["harness.gateway.server"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_circle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
