"""What importers write reads back identically (prompts with any text survive YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ValidationFailed
from harness.tasks.importers.common import write_suite

_prompt = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                  min_size=1, max_size=80).filter(lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompts=st.lists(_prompt, min_size=1, max_size=3))
def test_prompts_roundtrip(tmp_path_factory: pytest.TempPathFactory, prompts: list[str]) -> None:
    dest = tmp_path_factory.mktemp("suite")
    tasks = [{"id": f"t{i}", "prompt": p, "checks": [{"op": "contains", "value": p}]}
             for i, p in enumerate(prompts)]
    suite = write_suite(dest, tasks, {"name": "rt"})
    for i, p in enumerate(prompts):
        task = suite.get(f"t{i}")
        assert task.prompt_turns() == [p]
        assert task.checks == [{"op": "contains", "value": p}]


@pytest.mark.parametrize("text", ["\x85x", "a\u2028b", "a\r\nb", "  lead\nx", "trail \nx",
                                  "null", "a\n\n", "\ufeffbom", "x\x07y", "tab\tx\ny"])
def test_awkward_prompts_roundtrip(tmp_path: Path, text: str) -> None:
    suite = write_suite(tmp_path, [{"id": "t", "prompt": text}], {})
    assert suite.get("t").prompt == text


def test_duplicate_ids_refused_before_overwrite(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="duplicate task id 'a'"):
        write_suite(tmp_path, [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}], {})
