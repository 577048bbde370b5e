"""``mine``: digests in, tasks (and the reasons for every session not made a task) out.

One task per intent and start state: the sessions of a group (see :mod:`group`) that
started at the same commit of the same repo make one task, with checks from their evidence
(:mod:`checks`), the session's own edits as its oracle (:mod:`oracle`), and provenance (the
sessions it came from) in ``meta.mined``. Recurring groups (seen in ``min_occurrences``
sessions or more) and groups touching ``target_skill`` come first, so ``max_tasks`` keeps
them. Nothing here writes files; :mod:`writer` does.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.harvest.digest import Digest
from harness.mine import split as split_mod
from harness.mine.checks import mine_checks
from harness.mine.group import Group, group_digests, normalise
from harness.mine.oracle import oracle_script
from harness.providers.warm import WORKDIR

REPORT_SCHEMA = "harness.mine/v1"


@dataclass
class MineOptions:
    threshold: float = 0.8
    min_occurrences: int = 2
    holdout_fraction: float = 0.34
    seed: int = 0
    frozen: tuple[str, ...] = ()
    target_skill: str | None = None  # the skill's name (see cli: from its SKILL.md)
    allow_no_repo: bool = False
    max_tasks: int | None = None
    timeout_sec: int = 900


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MinedTask(_Model):
    id: str
    split: str
    sessions: list[str]
    recurring: bool
    checks: list[str]
    oracle: bool
    model_checks: list[str] = Field(default_factory=list)  # checks a model wrote (rubric)
    notes: list[str] = Field(default_factory=list)


class Dropped(_Model):
    sessions: list[str]
    prompt: str
    reason: str


class MineReport(_Model):
    schema_: str = Field(REPORT_SCHEMA, alias="schema")
    at: datetime
    project: str = ""
    digests: int = 0
    groups: int = 0
    recurring_groups: int = 0
    tasks: list[MinedTask] = Field(default_factory=list)
    dropped: list[Dropped] = Field(default_factory=list)
    splits: dict[str, int] = Field(default_factory=dict)


@dataclass
class Built:
    """One task ready to write: its YAML data and its oracle script (or None)."""

    data: dict[str, Any]
    oracle: str | None
    group: str
    rank: tuple[Any, ...] = ()
    summary: MinedTask | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _slug(text: str) -> str:
    words = [w for w in normalise(text) if len(w) > 2][:5]
    return re.sub(r"[^a-z0-9-]", "", "-".join(words))[:40].strip("-") or "task"


def _repo_files(repo: str, commit: str) -> tuple[list[str] | None, str]:
    try:
        r = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", commit],
                           capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot read {repo}: {exc}"
    if r.returncode != 0:
        return None, f"commit {commit[:10]} is not in {repo} any more"
    return r.stdout.splitlines(), ""


def _uses_skill(d: Digest, skill: str) -> bool:
    s = skill.lower()
    text = " ".join([*d.prompts, *(t.final_answer for t in d.turns)]).lower()
    return skill in d.skills or s in text or any(s in c.summary.lower() for c in d.tool_calls)


def _task(g: Group, sessions: list[Digest], opts: MineOptions) -> tuple[Built | None, str]:
    """One task from the sessions of ``g`` that share a start state, or why not."""
    first = sessions[0]
    start = first.start
    if start.commit is None or start.repo is None:
        if not opts.allow_no_repo:
            return None, (f"no start commit ({start.problem or 'unknown'}); "
                          "--allow-no-repo mines it without a workspace")
        repo_files: list[str] = []
        prefix = ""
    else:
        files, why = _repo_files(start.repo, start.commit)
        if files is None:
            return None, why
        repo_files = files
        rel = os.path.relpath(first.cwd, start.repo) if first.cwd else "."
        prefix = "" if rel == "." or rel.startswith("..") else rel
    mined = mine_checks(sessions, repo_files, prefix)
    if not mined.checks:
        return None, "no check from evidence (" + "; ".join(mined.notes) + \
            "; no file changed, no stable answer shape)"
    if not mined.discriminating:
        ops = ", ".join(c["op"] for c in mined.checks)
        return None, f"its checks ({ops}) would pass with no work (" + "; ".join(mined.notes) + ")"
    # the oracle: the latest session that ended green (when tests are checked) and whose
    # edits can be redone
    want_green = any(c["name"] == "mined tests" for c in mined.checks)
    script, onote = None, "no session's edits could be redone"
    for d in sorted(sessions, key=lambda x: (x.started_at is None, x.started_at), reverse=True):
        if want_green and not d.tests_passed_at_end:
            continue
        script, onote = oracle_script(d, WORKDIR, prefix)
        if script is not None:
            break
    recurring = g.occurrences >= opts.min_occurrences
    tid = f"{_slug(first.prompts[0] if first.prompts else '')}-{g.key[:8]}-" + (
        start.commit[:7] if start.commit else "norepo")
    prompts = list(first.prompts)
    data: dict[str, Any] = {"schema": "harness.task/v1", "id": tid}
    if len(prompts) == 1:
        data["prompt"] = prompts[0]
    else:
        data["turns"] = prompts
    if start.commit and start.repo:
        data["workspace"] = {"git": start.repo, "ref": start.commit}
    tags = ["mined", "recurring" if recurring else "once", *sorted({d.agent for d in sessions})]
    if any(d.start.approximate for d in sessions):
        tags.append("approximate")
    skill_hit = bool(opts.target_skill) and any(
        _uses_skill(d, opts.target_skill or "") for d in g.members)
    if skill_hit:
        tags.append("target-skill")
    data.update(checks=mined.checks, timeout_sec=opts.timeout_sec, tags=tags)
    if script is not None:
        data["oracle"] = "oracle.sh"
    data["meta"] = {"mined": {
        "group": g.key,
        "occurrences": g.occurrences,
        "recurring": recurring,
        "group_sessions": [d.id for d in g.members],
        "sessions": [{
            "id": d.id, "agent": d.agent, "cli_version": d.cli_version,
            "started_at": d.started_at.isoformat() if d.started_at else None,
            "cwd": d.cwd, "commit": d.start.commit, "commit_found_by": d.start.how,
            "approximate": d.start.approximate,
        } for d in sessions],
        "workdir_prefix": prefix,
        "evidence": mined.notes,
        "answers": [d.final_answer for d in sessions if d.final_answer][-1:],
        "oracle": onote,
    }}
    first_at = min((d.started_at for d in sessions if d.started_at),
                   default=datetime.max.replace(tzinfo=UTC))
    b = Built(data, script, g.key, rank=(not skill_hit, not recurring, -g.occurrences, first_at))
    b.summary = MinedTask(id=tid, split="train", sessions=[d.id for d in sessions],
                          recurring=recurring, checks=[c["op"] for c in mined.checks],
                          oracle=script is not None, notes=[*mined.notes, onote])
    return b, ""


def mine(digests: list[Digest], opts: MineOptions, project: str = "") -> tuple[MineReport, list[Built]]:
    """Tasks from ``digests`` (splits assigned) and the report of what became of each."""
    rep = MineReport(at=datetime.now(UTC), project=project, digests=len(digests),
                     schema=REPORT_SCHEMA)
    groups = group_digests([d for d in digests if d.prompts], opts.threshold)
    rep.groups = len(groups)
    rep.recurring_groups = sum(g.occurrences >= opts.min_occurrences for g in groups)
    built: list[Built] = []
    for g in groups:
        by_state: dict[tuple[str | None, str | None], list[Digest]] = {}
        for d in g.members:
            by_state.setdefault((d.start.repo, d.start.commit), []).append(d)
        for sessions in by_state.values():
            b, why = _task(g, sessions, opts)
            if b is None:
                rep.dropped.append(Dropped(sessions=[d.id for d in sessions],
                                           prompt=sessions[0].prompts[0][:120], reason=why))
            else:
                built.append(b)
    built.sort(key=lambda b: b.rank)
    if opts.max_tasks is not None:
        for b in built[opts.max_tasks:]:
            assert b.summary is not None
            rep.dropped.append(Dropped(sessions=b.summary.sessions, prompt=b.data["id"],
                                       reason=f"over --max-tasks {opts.max_tasks}"))
        built = built[:opts.max_tasks]
    per_group: dict[str, list[str]] = {}
    for b in built:
        per_group.setdefault(b.group, []).append(b.data["id"])
    splits = split_mod.assign(per_group, opts.holdout_fraction, opts.seed, set(opts.frozen))
    for b in built:
        b.data["split"] = splits[b.data["id"]]
        assert b.summary is not None
        b.summary.split = b.data["split"]
        rep.tasks.append(b.summary)
        rep.splits[b.data["split"]] = rep.splits.get(b.data["split"], 0) + 1
    return rep, built
