"""``propose``: evidence → prompt → one model call → edits → validated candidate folder.

Why a failed proposal is a value (``Proposal(ok=False, error=...)``) and not an exception:
the night goes on with its other candidates, and the record keeps why this one failed and
what the model said (``reply_path``). Only the caller's own mistakes (a target that does
not exist, a run folder that is not one, a budget below one) raise, as ``ConfigError``.

What ``out_dir`` holds afterwards::

    out_dir/
      prompt.md        what the model was asked (evidence is redacted; no key in it)
      reply.txt        what it answered, byte for byte
      proposal.json    ok, error, problems, the edits with their rationales
      candidate/       only when ok: every target, laid out like ``targets`` (relative to
                       the project), with the edits applied; written whole or not at all

so ``harness run --variant cand=<out_dir>/candidate/<target>`` and ``gate.staging.stage``
map it onto the live layout exactly as they map the live target.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.propose.client import ProposerCallFailed, ask
from harness.propose.edits import ProposalInvalid, apply_edits, edit_dict, parse_reply
from harness.propose.evidence import DEFAULT_BYTES, build_evidence
from harness.propose.memory import rejected_examples
from harness.propose.prompt import SYSTEM, build_prompt
from harness.propose.validate import path_problem, proposal_problems, resolve_files

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
MAX_TARGET_FILES = 200
CANDIDATE = "candidate"


@dataclass(frozen=True)
class ProposeOptions:
    """How to reach the model (``base_url`` + the Gateway's per-call ``api_key``) and the
    proposal's bounds; ``db_path`` is the runs database holding rejected edits."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    max_edits: int = 3
    max_bytes: int = 20000
    project: str = ""
    night_id: str = ""
    db_path: Path | None = None
    timeout_s: float = 120.0
    evidence_bytes: int = DEFAULT_BYTES
    rejected_limit: int = 20


@dataclass(frozen=True)
class Proposal:
    """What came of one proposal. ``edits``: dicts with file, op, section, content, rationale
    (and ``after`` for an add placed after a section)."""

    ok: bool
    candidate_dir: Path | None
    edits: list[dict[str, Any]]
    error: str | None
    reply_path: Path | None
    prompt_path: Path | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Targets:
    """The target files as read: ``files`` maps every file's project-relative name to its
    live path; ``texts`` holds the editable (markdown / text) ones."""

    files: dict[str, Path]
    texts: dict[str, str]
    folders: tuple[str, ...]


def read_targets(targets: dict[str, Path]) -> Targets:
    """Every target's files; ConfigError naming every unusable target at once."""
    probs: list[str] = []
    files: dict[str, Path] = {}
    folders: list[str] = []
    for name, path in sorted(targets.items()):
        why = path_problem(name)
        if why:
            probs.append(f"target {name!r} {why}")
            continue
        p = Path(path).expanduser()
        if not p.exists():
            probs.append(f"target {name}: {p} does not exist")
        elif p.is_file():
            files[name] = p
        else:
            folders.append(name)
            for f in sorted(p.rglob("*")):
                if ".git" in f.relative_to(p).parts or f.is_symlink() or not f.is_file():
                    continue  # a symlink could lead out of the skill: neither shown nor copied
                files[f"{name}/{f.relative_to(p).as_posix()}"] = f
    if len(files) > MAX_TARGET_FILES:
        probs.append(f"the targets hold {len(files)} files, more than {MAX_TARGET_FILES}")
    if probs:
        raise ConfigError("; ".join(probs), hint="give each target as NAME=PATH, NAME relative "
                          "to the project (e.g. .claude/skills/x or CLAUDE.md), PATH existing")
    texts: dict[str, str] = {}
    for name, f in files.items():
        if f.suffix.lower() in TEXT_SUFFIXES:
            try:
                texts[name] = f.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
    return Targets(files, texts, tuple(folders))


def _write_candidate(out_dir: Path, t: Targets, new: dict[str, str]) -> Path:
    """``out_dir/candidate``, swapped in whole (a previous one is replaced)."""
    final = out_dir / CANDIDATE
    tmp = Path(tempfile.mkdtemp(prefix=".candidate-", dir=out_dir))
    try:
        for name in t.folders:
            (tmp / name).mkdir(parents=True, exist_ok=True)
        for name, src in t.files.items():
            dst = tmp / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if name in new and new[name] != t.texts.get(name):
                dst.write_bytes(new[name].encode("utf-8"))
            else:
                shutil.copy2(src, dst)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _clear(out_dir: Path) -> None:
    """Remove what an earlier proposal left in ``out_dir``: a failed proposal must not leave
    a stale candidate (or reply) that reads as this one's."""
    if (out_dir / CANDIDATE).is_dir():
        shutil.rmtree(out_dir / CANDIDATE)
    for name in ("reply.txt", "proposal.json", "prompt.md"):
        (out_dir / name).unlink(missing_ok=True)


def _record(out_dir: Path, p: Proposal) -> Proposal:
    data = {"ok": p.ok, "error": p.error, "problems": p.problems, "edits": p.edits,
            "candidate_dir": str(p.candidate_dir) if p.candidate_dir else None,
            "reply": str(p.reply_path) if p.reply_path else None}
    (out_dir / "proposal.json").write_text(json.dumps(data, indent=2) + "\n")
    return p


def propose(run_dirs: list[Path], targets: dict[str, Path], out_dir: Path,
            opts: ProposeOptions) -> Proposal:
    """Ask the model for edits to ``targets`` on the evidence of ``run_dirs``; write the
    candidate under ``out_dir`` when they are valid."""
    if opts.max_edits < 1:
        raise ConfigError(f"the edit budget is {opts.max_edits}", hint="allow at least 1 edit")
    missing = [str(d) for d in run_dirs if not (Path(d) / "run.json").is_file()
               and not (Path(d) / "trials.jsonl").is_file()]
    if missing:
        raise ConfigError(f"not a run folder: {', '.join(missing)}",
                          hint="pass folders `harness run` wrote (runs/<run-id>)")
    t = read_targets(targets)
    if not t.texts:
        raise ConfigError("the targets hold no markdown file to edit",
                          hint="target a skill folder with SKILL.md, or CLAUDE.md / AGENTS.md")
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)
    rejected = (rejected_examples(opts.db_path, opts.project, opts.rejected_limit)
                if opts.db_path is not None else [])
    evidence = build_evidence([Path(d) for d in run_dirs], max_bytes=opts.evidence_bytes)
    prompt = build_prompt(t.texts, evidence, max_edits=opts.max_edits, max_bytes=opts.max_bytes,
                          rejected=rejected)
    prompt_path = out_dir / "prompt.md"
    prompt_path.write_text(prompt)
    try:
        reply = ask(base_url=opts.base_url, api_key=opts.api_key, model=opts.model,
                    system=SYSTEM, prompt=prompt, timeout_s=opts.timeout_s)
    except ProposerCallFailed as exc:
        return _record(out_dir, Proposal(False, None, [], exc.one_line(), None, prompt_path))
    reply_path = out_dir / "reply.txt"
    reply_path.write_text(reply)
    try:
        edits = parse_reply(reply, max_edits=opts.max_edits)
    except ProposalInvalid as exc:
        return _record(out_dir, Proposal(False, None, [], str(exc), reply_path, prompt_path,
                                         exc.problems))
    resolved, probs = resolve_files(edits, sorted(t.texts))
    new, apply_probs = apply_edits(t.texts, resolved)
    probs += apply_probs + proposal_problems(t.texts, new, resolved, max_bytes=opts.max_bytes)
    if not probs and new == t.texts:
        probs.append("the edits change nothing")
    shown = [edit_dict(e) for e in (resolved if len(resolved) == len(edits) else edits)]
    if probs:
        err = ProposalInvalid("the proposed files are not valid", probs)
        return _record(out_dir, Proposal(False, None, shown, str(err), reply_path, prompt_path,
                                         probs))
    cand = _write_candidate(out_dir, t, new)
    return _record(out_dir, Proposal(True, cand, shown, None, reply_path, prompt_path))
