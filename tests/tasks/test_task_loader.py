"""Loading suites: defaults, discovery, selection, and every error at once with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, ValidationFailed
from harness.tasks import check_suite, load_suite


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def good_suite(tmp_path: Path) -> Path:
    write(tmp_path, "suite.yaml", "name: demo\nagent: claude\ntimeout_sec: 120\nsplit: heldout\n"
          "tags: [demo]\npolicy: policies/p.yaml\nvariants:\n  baseline: skills/live\n")
    write(tmp_path, "policies/p.yaml", "rules: []  # not a task: a policy the Gateway reads\n")
    write(tmp_path, "skills/live/SKILL.md", "# live\n")
    write(tmp_path, "skills/live/extra.yaml", "id: not-a-task\n")
    write(tmp_path, "repo/README.md", "hi\n")
    write(tmp_path, "repo/.github/ci.yaml", "on: push\n")
    write(tmp_path, "repo/config.yaml", "this: is workspace data\n")
    write(tmp_path, "tasks/fix.yaml", "id: fix\nprompt: fix it\nworkspace: ../repo\nsplit: train\n"
          "checks:\n  - op: command\n    cmd: make test\n")
    write(tmp_path, "tasks/many.yaml", "- id: a\n  prompt: one\n- id: b\n  turns: [x, y]\n"
          "  timeout_sec: 5\n  tags: [extra]\n")
    write(tmp_path, "tasks/c.json", json.dumps({"id": "c", "prompt": "json task",
                                                "split": "frozen", "policy": {"rules": []}}))
    return tmp_path


def test_load_folder_with_defaults(good_suite: Path) -> None:
    suite = load_suite(good_suite)
    assert suite.name == "demo" and suite.agent == "claude"
    assert sorted(suite.ids) == ["a", "b", "c", "fix"]
    assert suite.variants == {"baseline": (good_suite / "skills/live").resolve()}
    fix, a, b, c = (suite.get(i) for i in ("fix", "a", "b", "c"))
    assert fix.split == "train" and a.split == "heldout" and c.split == "frozen"
    assert a.timeout_sec == 120 and b.timeout_sec == 5
    assert b.tags == ["demo", "extra"]
    assert a.policy_source() == (good_suite / "policies/p.yaml").resolve()
    assert c.policy_source() == {"rules": []}
    assert fix.workspace_source().path == (good_suite / "repo").resolve()
    assert b.prompt_turns() == ["x", "y"]
    assert a.source.endswith("many.yaml:1") and b.source.endswith("many.yaml:3")


def test_split_and_tag_selection(good_suite: Path) -> None:
    suite = load_suite(good_suite)
    assert suite.split_counts() == {"train": 1, "heldout": 2, "frozen": 1}
    assert suite.by_split("heldout").ids == ["a", "b"]
    assert sorted(suite.by_split("train", "frozen").ids) == ["c", "fix"]
    assert suite.select(tags=["extra"]).ids == ["b"]
    assert suite.select(splits=["heldout"], ids=["b"]).ids == ["b"]
    with pytest.raises(ConfigError, match="unknown split"):
        suite.by_split("val")
    with pytest.raises(ConfigError, match="no task 'zz'"):
        suite.get("zz")
    with pytest.raises(ConfigError, match="no task 'zz'") as miss:  # --task: names the known ids
        suite.select(ids=["a", "zz"])
    assert miss.value.hint == "known: " + ", ".join(suite.ids)


def test_single_file_and_suite_yaml_path(good_suite: Path) -> None:
    one = load_suite(good_suite / "tasks/many.yaml")
    assert one.ids == ["a", "b"] and one.name == "many"
    assert one.get("a").split == "train"  # no suite.yaml defaults for a lone file
    assert len(load_suite(good_suite / "suite.yaml")) == 4


def test_include_exclude(good_suite: Path) -> None:
    write(good_suite, "suite.yaml", "exclude: ['tasks/*.json', 'policies/*', 'skills/*']\n")
    assert sorted(load_suite(good_suite).ids) == ["a", "b", "fix"]
    write(good_suite, "suite.yaml", "include: ['**/*.json']\n")
    assert load_suite(good_suite).ids == ["c"]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "nope")
    with pytest.raises(ValidationFailed, match="no task files"):
        load_suite(tmp_path)


BAD_TASK = """\
id: t1
promt: hi
split: test
checks:
  - op: contains
    value: x
  - op: contans
    value: y
  - op: regex
    pattern: "(unclosed"
"""

BAD_LIST = """\
- id: t1
  prompt: dup
- id: ok-2
  prompt: hi
  tools:
    - name: search
      output: x
      script: echo
- id: t3
  prompt: fine
  timeout_sec: -1
- id: t4
  prompt: fine
  workspace: missing-dir
  agents:
    codex:
      checks:
        - op: max_turns
          value: many
"""


def test_every_error_at_once_with_lines(tmp_path: Path) -> None:
    write(tmp_path, "suite.yaml", "name: bad\npolicy: nope.yaml\n")
    write(tmp_path, "a.yaml", BAD_TASK)
    write(tmp_path, "sub/list.yaml", BAD_LIST)
    write(tmp_path, "sub/broken.yaml", "id: broken\nprompt: [unclosed\n")
    write(tmp_path, "sub/empty.yaml", "")
    suite, errors = check_suite(tmp_path)
    assert suite is None
    got = {(e.where.replace(str(tmp_path), "R"), e.message.replace(str(tmp_path), "R").split(":")[0])
           for e in errors}
    expected = {
        ("R/a.yaml:2", "t1.promt"),
        ("R/a.yaml:3", "t1.split"),
        ("R/a.yaml:7", "t1.checks[1].op"),
        ("R/a.yaml:9", "t1.checks[2].pattern"),
        ("R/sub/broken.yaml:3", "invalid YAML"),
        ("R/sub/empty.yaml", "empty file (expected a task or a list of tasks)"),
        ("R/sub/list.yaml:1", "duplicate task id 't1' (first at R/a.yaml"),
        ("R/sub/list.yaml:6", "ok-2.tools[0]"),
        ("R/sub/list.yaml:11", "t3.timeout_sec"),
        ("R/sub/list.yaml:14", "t4.workspace"),
        ("R/sub/list.yaml:18", "t4.agents.codex.checks[0].value"),
        ("R/suite.yaml:2", "policy file nope.yaml does not exist"),
    }
    assert got == expected, sorted(got ^ expected)
    by_where = {e.where.replace(str(tmp_path), "R"): e.message for e in errors}
    assert "did you mean 'prompt'" in by_where["R/a.yaml:2"]
    assert "contans" in by_where["R/a.yaml:7"]
    # sorted by file then line, so a person can walk each file top to bottom
    wheres = [e.where for e in errors]
    assert wheres.index(f"{tmp_path}/a.yaml:2") < wheres.index(f"{tmp_path}/a.yaml:9")
    with pytest.raises(ValidationFailed) as info:
        load_suite(tmp_path)
    assert len(info.value.errors) == len(errors)


def test_json_file_errors_have_lines(tmp_path: Path) -> None:
    write(tmp_path, "t.json", '{\n  "id": "j",\n  "prompt": "p",\n  "timeout_sec": "soon"\n}\n')
    _, errors = check_suite(tmp_path)
    assert [e.where for e in errors] == [f"{tmp_path}/t.json:4"]
    write(tmp_path, "t.json", '{\n  "id": "j",\n  "prompt": "p",,\n}\n')
    _, errors = check_suite(tmp_path)
    assert errors[0].where.startswith(f"{tmp_path}/t.json:") and "invalid" in errors[0].message


def test_missing_local_paths_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "t.yaml", "id: t\nprompt: p\ndockerfile: Dockerfile\noracle: solve.sh\n"
          "tools:\n  - name: search\n    search: {pages: brain}\n")
    _, errors = check_suite(tmp_path)
    msgs = sorted(e.message.split(":")[0] for e in errors)
    assert msgs == ["t.dockerfile", "t.oracle", "t.tools[0].search.pages"]


def test_check_specs_located_by_the_gates_validator(tmp_path: Path) -> None:
    write(tmp_path, "t.yaml", """\
id: t
prompt: p
checks:
  - op: contains
    value: ok
  - op: regex
    pattern: "(["
  - op: max_chars
    value: lots
  - op: telepathy
  - op: qrels
    k: 5
agents:
  codex:
    checks:
      - op: max_turns
""")
    _, errors = check_suite(tmp_path)
    got = [(e.where.rsplit(":", 1)[1], e.message.split(":")[0]) for e in errors]
    assert got == [("6", "t.checks[1].pattern"), ("8", "t.checks[2].value"),
                   ("10", "t.checks[3].op"), ("11", "t.checks[4].expected_slugs"),
                   ("16", "t.agents.codex.checks[0].value")]


def test_check_specs_come_from_the_gates_registry(tmp_path: Path) -> None:
    """No shadow table: an op registered with the gate is a valid task check at once."""
    from gate import checks

    write(tmp_path, "t.yaml", "id: t\nprompt: p\nchecks:\n  - op: my_check\n")
    _, errors = check_suite(tmp_path)
    assert [e.message.split(":")[0] for e in errors] == ["t.checks[0].op"]
    assert "unknown check op 'my_check'" in errors[0].message
    checks.REGISTRY.register("my_check", "gate.checks.answer:NoRefusal")
    try:
        _, errors = check_suite(tmp_path)
    finally:
        del checks.REGISTRY["my_check"]
        checks._cache.pop("my_check", None)
    assert errors == []


def test_data_folders_are_not_tasks(tmp_path: Path) -> None:
    """YAML inside a workspace, pages or tests folder is data, even when it is broken."""
    write(tmp_path, "t.yaml", "id: t\nprompt: p\nworkspace: repo\n"
          "tools:\n  - name: search\n    search: {pages: pages}\n")
    write(tmp_path, "repo/broken.yaml", "a: [unclosed\n")
    write(tmp_path, "repo/ci.yml", "on: push\n")
    write(tmp_path, "repo/node_modules/pkg/x.yaml", "a: [unclosed\n")
    write(tmp_path, "pages/front.yaml", "title: not a task\n")
    write(tmp_path, "elsewhere/node_modules/y.yaml", "a: [unclosed\n")
    assert load_suite(tmp_path).ids == ["t"]


def test_the_suites_policy_is_validated_once_with_its_lines(tmp_path: Path) -> None:
    """suite.yaml's policy file (shared by every task, and named again by one of them) and a
    suite-level inline policy are checked by the Gateway's rules, each error once."""
    from harness.tasks import check_suite

    write(tmp_path, "s/suite.yaml", "name: s\npolicy: p.yaml\n")
    write(tmp_path, "s/p.yaml", "rules:\n  - match: {user: '('}\n    reply: {text: hi, extra: 1}\n")
    write(tmp_path, "s/a.yaml", "- {id: a, prompt: x}\n- {id: b, prompt: y, policy: p.yaml}\n")
    _, errors = check_suite(tmp_path / "s")
    assert [str(e).split(": ", 2)[:2] for e in errors] == [
        [f"{tmp_path}/s/p.yaml:2", "rules.0.match.user"], [f"{tmp_path}/s/p.yaml:3", "rules.0.reply.extra"]]
    write(tmp_path, "s/suite.yaml", "name: s\npolicy:\n  rules: []\n  defaults: {text: hi}\n")
    write(tmp_path, "s/a.yaml", "- {id: a, prompt: x}\n")
    (tmp_path / "s/p.yaml").unlink()
    _, errors = check_suite(tmp_path / "s")
    assert [str(e) for e in errors] == [
        f"{tmp_path}/s/suite.yaml:4: suite.policy.defaults: unknown field 'defaults'"]


def test_script_is_the_scripted_models_rules_and_policy_its_old_name(tmp_path: Path) -> None:
    """`script:` (task or suite) names the scripted model's rules; `policy:` still works;
    errors speak the word the file used; both at once is refused at its line."""
    write(tmp_path, "s/suite.yaml", "name: s\nscript: rules.yaml\n")
    write(tmp_path, "s/rules.yaml", "rules: []\n")
    write(tmp_path, "s/a.yaml", "- {id: a, prompt: x}\n- {id: b, prompt: y, policy: {rules: []}}\n")
    suite = load_suite(tmp_path / "s")
    a, b = suite.tasks
    assert a.script_source() == (tmp_path / "s" / "rules.yaml").resolve() and b.script == {"rules": []}
    write(tmp_path, "s/a.yaml", "- {id: a, prompt: x, script: {rules: [], colour: red}}\n")
    _, errors = check_suite(tmp_path / "s")
    assert [e.message.split(":")[0] for e in errors] == ["a.script.colour"]
    write(tmp_path, "s/a.yaml", "id: a\nprompt: x\nscript: rules.yaml\npolicy: rules.yaml\n")
    _, errors = check_suite(tmp_path / "s")
    assert len(errors) == 1 and "give `script:` only" in errors[0].message
