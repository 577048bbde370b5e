"""Parse YAML/JSON keeping node positions, so an error deep in a task has a line number.

Why compose the node tree instead of only ``safe_load``: pydantic reports a location as a
path of keys and indexes (``("checks", 1, "op")``); walking the same path through the
composed nodes gives the line a person should open. JSON goes through the YAML parser
too (JSON is, in practice, YAML), with ``json`` as the fallback for the odd document the
YAML 1.1 parser refuses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml


class ParseError(Exception):
    """The text is not valid YAML/JSON; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Parsed:
    """A parsed document with its composed root node (None for the json fallback)."""

    data: Any
    node: yaml.Node | None


def parse(text: str, *, is_json: bool = False) -> Parsed:
    """Parse one document; raises :class:`ParseError` with the line of the problem."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return Parsed(data, node)
    except yaml.YAMLError as exc:
        if is_json:
            try:
                return Parsed(json.loads(text), None)
            except json.JSONDecodeError as jexc:
                raise ParseError(f"invalid JSON: {jexc.msg}", jexc.lineno) from jexc
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(f"invalid YAML: {problem}", mark.line + 1 if mark else 0) from exc
    finally:
        loader.dispose()


def line_of(node: yaml.Node | None, path: Sequence[Any]) -> int:
    """1-based line of the deepest node reachable along ``path`` (0 without a node).

    Path parts that name nothing in the tree (pydantic's union tags such as ``'str'``)
    are skipped; a key that is present points at the key itself, so an unknown field is
    reported where it is written.
    """
    if node is None:
        return 0
    line = node.start_mark.line + 1
    cur: yaml.Node = node
    for part in path:
        if isinstance(cur, yaml.MappingNode):
            for key, value in cur.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    cur = value
                    break
        elif (isinstance(cur, yaml.SequenceNode) and isinstance(part, int)
              and 0 <= part < len(cur.value)):
            cur = cur.value[part]
            line = cur.start_mark.line + 1
    return line


def value_node(node: yaml.Node | None, path: Sequence[Any]) -> yaml.Node | None:
    """The node at ``path`` (mapping keys, sequence indexes), or None when it is absent."""
    cur = node
    for part in path:
        if isinstance(cur, yaml.MappingNode):
            cur = next((v for k, v in cur.value
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int):
            cur = child(cur, part)
        else:
            return None
    return cur


def child(node: yaml.Node | None, index: int) -> yaml.Node | None:
    """The ``index``-th item of a sequence node (None when there is no such node)."""
    if isinstance(node, yaml.SequenceNode) and 0 <= index < len(node.value):
        return node.value[index]
    return None
