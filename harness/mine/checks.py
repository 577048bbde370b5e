"""Checks from evidence only: what the sessions did and how they ended, no model.

- the test command that passed at a session's end → a ``tests`` check (pytest prints the
  summary the gate parses) or, for any other runner, a ``command`` check on its exit code;
- the files every session of the task changed → ``diff_touches``;
- the repo's test files no session touched → ``diff_not_touches`` (a replay that edits the
  tests to pass them fails);
- headings every final answer had (and, with two or more answers, a list or code block in
  all of them) → answer-shape checks.

Why "discriminating": a task must fail when the agent does nothing. ``diff_touches`` and
answer shape always do; a tests check only when the sessions saw those tests fail before
they passed. A task whose checks would all pass with no work is dropped, with that reason.
Each check carries ``name: mined <why>`` so a report shows where it came from.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.harvest import evidence as ev
from harness.harvest.digest import Digest

MAX_NOT_TOUCH = 200
_TEST_FILE = re.compile(
    r"(^|/)(tests?|__tests__|spec)/|(^|/)test_[^/]+\.py$|_test\.(py|go|rb)$|"
    r"\.(test|spec)\.[jt]sx?$|(^|/)[^/]+Test\.(java|kt)$|_spec\.rb$"
)
_SEGMENT = re.compile(r"\s*(?:&&|\|\||;|\n)\s*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)


@dataclass
class Mined:
    """The checks for one task, whether any of them fails on a no-op, and notes on why."""

    checks: list[dict[str, Any]] = field(default_factory=list)
    discriminating: bool = False
    notes: list[str] = field(default_factory=list)


def runner_part(cmd: str) -> str | None:
    """The test part of a compound command (``sed -i .. && pytest -q`` → ``pytest -q``),
    with any ``cd`` before it kept; None when no part runs tests."""
    parts = [p for p in _SEGMENT.split(cmd.strip()) if p]
    cds: list[str] = []
    for p in parts:
        if p.startswith("cd "):
            cds.append(p)
        elif ev.is_test_command(p):
            return " && ".join([*cds, p])
    return None


def changed_files(d: Digest) -> set[str]:
    """Files a session changed inside its cwd (relative paths; absolute ones lie outside)."""
    return {f for f in d.files_touched if f and not f.startswith(("/", "~", "..")) and "$" not in f}


def tests_check(sessions: list[Digest], prefix: str) -> tuple[dict[str, Any] | None, bool, str]:
    """The most common test command that passed at a session's end, as a check; whether a
    session saw it fail first (so a no-op fails it); a note."""
    parts = [runner_part(d.test_runs[-1].cmd) for d in sessions if d.tests_passed_at_end]
    ends = [e for e in parts if e]
    if not ends:
        ran = any(d.test_runs for d in sessions)
        return None, False, ("tests ran but did not pass at the end" if ran else "no tests ran")
    cmd = Counter(ends).most_common(1)[0][0]
    failed_first = any(
        r.outcome == "failed" and runner_part(r.cmd) == cmd for d in sessions for r in d.test_runs
    )
    full = f"cd {prefix} && {cmd}" if prefix else cmd
    if re.search(r"\bpy\.?test\b", cmd):
        check = {"op": "tests", "cmd": full, "name": "mined tests", "timeout_sec": 600}
    else:  # only pytest prints the summary the tests check reads: judge others by exit code
        check = {"op": "command", "cmd": full, "expect_exit": 0, "name": "mined tests",
                 "timeout_sec": 600}
    return check, failed_first, f"tests: `{cmd}` passed at the end" + (
        " after failing" if failed_first else " (never seen failing)")


def answer_checks(sessions: list[Digest]) -> list[dict[str, Any]]:
    """Shape rules every final answer followed: shared headings; with 2+ answers, a list or
    a code block in each."""
    answers = [d.final_answer for d in sessions if d.final_answer.strip()]
    if not answers or len(answers) < len(sessions):
        return []
    heads = [{h.strip() for h in _HEADING.findall(a)} for a in answers]
    shared = sorted(set.intersection(*heads)) if heads else []
    out: list[dict[str, Any]] = [
        {"op": "section_present", "heading": h, "name": "mined answer shape"} for h in shared[:5]
    ]
    if len(answers) >= 2:
        if all(_BULLET.search(a) for a in answers):
            out.append({"op": "regex", "pattern": r"^\s*([-*+]|[0-9]+[.)])\s+\S", "flags": "m",
                        "name": "mined answer shape: a list"})
        if all("```" in a for a in answers):
            out.append({"op": "contains", "value": "```", "name": "mined answer shape: code"})
    return out


def mine_checks(sessions: list[Digest], repo_files: list[str], prefix: str) -> Mined:
    """Every check the sessions' evidence supports (see the module docstring)."""
    m = Mined()
    pre = f"{prefix}/" if prefix else ""
    tc, failed_first, note = tests_check(sessions, prefix)
    m.notes.append(note)
    if tc is not None:
        m.checks.append(tc)
        m.discriminating |= failed_first
    sets = [changed_files(d) for d in sessions]
    every = set.intersection(*sets) if sets else set()
    touched_any = set().union(*sets) if sets else set()
    tests_changed = {f for f in every if _TEST_FILE.search(f)}
    if every:
        m.checks.append({"op": "diff_touches", "paths": [pre + f for f in sorted(every)],
                         "name": "mined files changed"})
        m.discriminating = True
        m.notes.append(f"changed in every session: {', '.join(sorted(every))}")
    elif touched_any:
        m.notes.append("the sessions changed different files: no diff_touches")
    untouched = [
        f for f in repo_files
        if _TEST_FILE.search(f) and f.removeprefix(pre) not in touched_any and f.startswith(pre)
    ]
    if untouched and not tests_changed:
        m.checks.append({"op": "diff_not_touches", "paths": untouched[:MAX_NOT_TOUCH],
                         "name": "mined tests left alone"})
    shape = answer_checks(sessions)
    if shape:
        m.checks.extend(shape)
        m.discriminating = True
        m.notes.append(f"answer shape: {len(shape)} rule(s)")
    return m
