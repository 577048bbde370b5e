"""The example suite in tasks/fixtures/suite-example uses every field; it must stay valid."""

from __future__ import annotations

from pathlib import Path

from harness.tasks import load_suite, render_tool_shims, tool_data

EXAMPLE = Path(__file__).resolve().parents[2] / "tasks" / "fixtures" / "suite-example"


def test_example_suite_loads_with_every_field() -> None:
    suite = load_suite(EXAMPLE)
    assert suite.name == "example" and suite.agent == "claude"
    assert set(suite.variants) == {"baseline", "candidate"}
    assert suite.split_counts() == {"train": 1, "heldout": 1, "frozen": 1}

    fix = suite.get("fix-add")
    assert fix.workspace_source().path == (EXAMPLE / "repo").resolve()
    assert fix.policy_source()["rules"][0]["name"] == "fix-add"  # inline beats the suite's file
    assert fix.timeout_for("claude") == 600 and fix.timeout_for("codex") == 900
    assert [c["op"] for c in fix.checks_for("codex")][-1] == "max_tokens"
    assert sorted(render_tool_shims(fix)) == ["deploy", "now", "search", "ticket"]
    assert list(tool_data(fix)) == ["search/notes/release-checklist.md"]
    assert fix.tags == ["example", "python", "bugfix"]

    release = suite.get("release-steps")
    assert release.timeout_sec == 300  # the suite default
    assert release.policy_source() == (EXAMPLE / "policies/default.yaml").resolve()

    turns = suite.get("two-turns")
    assert turns.prompt_turns() == ['Create hello.txt containing "hi".',
                                    'Now append a second line "there".']
    src = turns.workspace_source()
    assert (src.kind, src.ref) == ("git", "v1.2.0")


def test_local_git_workspace_must_exist(tmp_path: Path) -> None:
    from harness.tasks import check_suite

    (tmp_path / "t.yaml").write_text("id: t\nprompt: p\nworkspace: {git: ../nowhere, ref: main}\n")
    _, errors = check_suite(tmp_path)
    assert [e.message.split(":")[0] for e in errors] == ["t.workspace"]
