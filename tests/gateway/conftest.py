"""Helpers for gateway tests: a scripted Gateway from inline YAML, raw SSE reading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gw_helpers import BASIC_POLICY

from harness.gateway import Gateway


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[str], Path]:
    def _write(text: str) -> Path:
        p = tmp_path / f"policy{len(list(tmp_path.glob('policy*')))}.yaml"
        p.write_text(text)
        return p
    return _write


@pytest.fixture
def scripted(write_policy: Callable[[str], Path]) -> Iterator[Callable[..., Gateway]]:
    """Factory: ``scripted(yaml_text, **kw)`` -> a started Gateway, closed after the test."""
    started: list[Gateway] = []

    def _make(text: str = BASIC_POLICY, **kw: Any) -> Gateway:
        gw = Gateway("scripted", policy=write_policy(text), **kw).start()
        started.append(gw)
        return gw
    yield _make
    for gw in started:
        gw.close()


