"""Reading a proposer's reply and applying its section edits: known answers, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.propose.edits import Edit, ProposalInvalid, apply_edits, apply_one, parse_reply

ROOT = Path(__file__).resolve().parents[2]
DOC = """---
name: fix-bugs
description: How to fix a reported bug.
---

# Fixing bugs

## Steps

1. Read the report.
2. Fix it.

### Details

Small changes only.

## Style

```sh
# not a heading: a comment in a fence
make test
```
"""


def E(**kw: object) -> Edit:
    kw.setdefault("file", "SKILL.md")
    kw.setdefault("rationale", "because")
    return Edit.model_validate(kw)


def error_of(reply: str, max_edits: int = 3) -> str:
    with pytest.raises(ProposalInvalid) as ei:
        parse_reply(reply, max_edits=max_edits)
    return str(ei.value)


# ---------------------------------------------------------------- parsing replies

GOOD = '{"edits": [{"file": "SKILL.md", "op": "delete", "section": "## Style", "rationale": "unused"}]}'


def test_a_plain_json_reply_is_read() -> None:
    [e] = parse_reply(GOOD, max_edits=3)
    assert (e.file, e.op, e.section, e.content, e.rationale, e.after) == (
        "SKILL.md", "delete", "## Style", "", "unused", None)


def test_a_fenced_json_block_inside_prose_is_read() -> None:
    reply = f"Here is my proposal.\n\n```json\n{GOOD}\n```\n\nThese should help."
    assert parse_reply(reply, max_edits=3)[0].section == "## Style"


def test_a_bare_list_of_edits_is_read_as_the_set() -> None:
    assert len(parse_reply(GOOD[len('{"edits": '):-1], max_edits=3)) == 1


def test_a_reply_without_json_says_so() -> None:
    assert error_of("I would add a step that runs the tests.") == (
        "the proposer's reply is not an edit set: 1 problem: it holds no JSON object "
        '(expected {"edits": [...]}, optionally in a ```json block)')


def test_every_schema_problem_is_named_at_once() -> None:
    reply = ('{"edits": [{"file": "SKILL.md", "op": "rewrite", "section": "## Steps", '
             '"rationale": "x"}, {"file": "SKILL.md", "op": "add", "section": "## New", '
             '"content": "## New", "colour": "red"}], "note": "hi"}')
    msg = error_of(reply)
    assert msg.startswith("the proposer's reply is not a valid edit set: 4 problems: ")
    assert "edits.0.op: Input should be 'add', 'replace' or 'delete'" in msg
    assert "edits.1.rationale: Field required" in msg
    assert "edits.1.colour: Extra inputs are not permitted" in msg
    assert "note: Extra inputs are not permitted" in msg
    assert "\n" not in msg


def test_the_budget_is_enforced_and_an_empty_set_refused() -> None:
    four = "[" + ",".join([GOOD[len('{"edits": ['):-2]] * 4) + "]"
    assert error_of(four, max_edits=3).endswith("1 problem: 4 edits, over the budget of 3")
    assert len(parse_reply(four, max_edits=4)) == 4
    assert error_of('{"edits": []}').endswith("1 problem: it proposes no edits")


@pytest.mark.parametrize(("edit", "why"), [
    ('"op": "delete", "section": "## Steps", "content": "x"', "delete takes no content"),
    ('"op": "replace", "section": "## Steps"', "replace needs content"),
    ('"op": "add", "section": "Checks", "content": "text"',
     "add needs a heading line as section (e.g. '## Checks')"),
    ('"op": "delete", "section": "front matter"', "the front matter can only be replaced"),
    ('"op": "replace", "section": "## Steps", "content": "x", "after": "## Style"',
     "'after' is for add, not replace"),
    ('"op": "delete", "section": "   ", "rationale": "x"', "section: Value error, must not be blank"),
])
def test_edits_that_cannot_make_sense_are_refused(edit: str, why: str) -> None:
    rationale = "" if '"rationale"' in edit else ', "rationale": "r"'
    msg = error_of('{"edits": [{"file": "SKILL.md", ' + edit + rationale + "}]}")
    assert msg.endswith(why) and msg.count("problem") == 1


# ---------------------------------------------------------------- applying edits


def test_replace_changes_only_that_section_and_keeps_its_children_out() -> None:
    out = apply_one(DOC, E(op="replace", section="## Style", content="## Style\n\nBe brief."))
    assert out == DOC[: DOC.index("## Style")] + "## Style\n\nBe brief.\n"


def test_replace_without_a_heading_keeps_the_old_one() -> None:
    out = apply_one(DOC, E(op="replace", section="details", content="Any size."))
    assert "### Details\n\nAny size.\n\n## Style\n" in out
    assert out.replace("### Details\n\nAny size.\n", "### Details\n\nSmall changes only.\n") == DOC


def test_add_after_a_section_lands_after_its_children() -> None:
    out = apply_one(DOC, E(op="add", section="## Checks", after="## Steps",
                           content="## Checks\n\nRun the tests."))
    assert "Small changes only.\n\n## Checks\n\nRun the tests.\n\n## Style\n" in out
    assert out.replace("## Checks\n\nRun the tests.\n\n", "") == DOC


def test_add_at_the_end_and_a_content_without_heading() -> None:
    out = apply_one(DOC, E(op="add", section="## Never", content="- edit a test"))
    assert out == DOC + "\n## Never\n\n- edit a test\n"


def test_delete_takes_the_section_with_its_children() -> None:
    out = apply_one(DOC, E(op="delete", section="## Steps"))
    assert out == DOC[: DOC.index("## Steps")] + DOC[DOC.index("## Style"):]


def test_front_matter_is_replaced_as_a_block() -> None:
    out = apply_one(DOC, E(op="replace", section="Front Matter",
                           content="---\nname: fix-bugs\ndescription: Fix bugs, tested.\n---"))
    assert out == DOC.replace("How to fix a reported bug.", "Fix bugs, tested.")


@pytest.mark.parametrize(("edit", "why"), [
    (dict(op="delete", section="## Nope"), "no such section"),
    (dict(op="delete", section="# not a heading: a comment in a fence"), "no such section"),
    (dict(op="add", section="## Steps", content="## Steps\n\nagain"),
     "a section '## Steps' is already there (use replace)"),
    (dict(op="add", section="## X", after="## Nope", content="x"), "after '## Nope': no such section"),
    (dict(op="add", section="## X", content="### Y\n\ny"),
     "its content starts with '### Y', not the section's heading"),
])
def test_edits_that_do_not_fit_the_file_are_named(edit: dict[str, str], why: str) -> None:
    new, probs = apply_edits({"SKILL.md": DOC}, [E(**edit)])
    assert new == {"SKILL.md": DOC} and probs == [f"edits.0 ({edit['op']} {edit['section']!r} in SKILL.md): {why}"]


def test_a_heading_named_twice_must_be_told_apart() -> None:
    doc = "# A\n\n## Notes\n\none\n\n# B\n\n### Notes\n\ntwo\n"
    _, probs = apply_edits({"f.md": doc}, [E(file="f.md", op="delete", section="Notes")])
    assert probs == ["edits.0 (delete 'Notes' in f.md): 2 sections match (name it with its "
                     "level, e.g. '## X')"]
    new, probs = apply_edits({"f.md": doc}, [E(file="f.md", op="delete", section="### Notes")])
    assert probs == [] and new["f.md"] == "# A\n\n## Notes\n\none\n\n# B\n\n"


def test_the_demo_proposer_turns_the_live_skill_into_the_candidate_byte_for_byte() -> None:
    """The scripted reply the nightly demo uses makes exactly the skill the demo policy
    follows to green (tasks/examples/skills/candidate), so the gate can accept it."""
    rules = yaml.safe_load((ROOT / "tasks/examples/nightly/proposer.yaml").read_text())["rules"]
    edits = parse_reply(rules[0]["reply"]["text"], max_edits=3)
    live = (ROOT / "tasks/examples/skills/live/SKILL.md").read_text()
    new, probs = apply_edits({"SKILL.md": live}, edits)
    assert probs == []
    assert new["SKILL.md"] == (ROOT / "tasks/examples/skills/candidate/SKILL.md").read_text()
