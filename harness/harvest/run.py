"""One harvest: find the session files, read the new ones, resolve each start commit,
redact, and keep a digest per session in the store.

Why every file ends in exactly one bucket (kept, unchanged, skipped with a reason): a
nightly job that loses a session silently would never be noticed; the report's counts add
up to what was found. Nothing here raises for bad input: a bad line, an unreadable file, a
repo that is gone are problems in the report, and the harvest goes on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from harness.errors import ConfigError
from harness.harvest import claude, codex, gemini, opencode, qwen, repo
from harness.harvest.builder import SessionBuilder
from harness.harvest.digest import REPORT_SCHEMA, Agent, Digest, HarvestReport, Problem, Skipped
from harness.harvest.redact import redact_obj, redact_text
from harness.harvest.store import HarvestStore, inside

SOURCES = ("claude", "codex", "opencode", "gemini", "qwen", "auto")
#: the readers of the CLIs whose session files are plain files found by ``discover``
READERS = {"gemini": gemini, "qwen": qwen}


@dataclass
class HarvestOptions:
    source: str = "auto"
    since: datetime | None = None
    project: Path | None = None
    max_sessions: int | None = None
    claude_home: Path | None = None
    codex_home: Path | None = None
    opencode_home: Path | None = None  # opencode's data dir (holds opencode.db)
    gemini_home: Path | None = None
    qwen_home: Path | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class _Candidate:
    agent: str
    path: Path
    size: int
    mtime_ns: int
    skip: str | None = None
    archived: bool = False
    claude_file: claude.SessionFile | None = None
    opencode_row: opencode.SessionRow | None = None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or time (UTC when no zone), or a span back from now
    (``36h``, ``7d``, ``2w``)."""
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - timedelta(
            **{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n}
        )
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither an ISO date/time nor a span like 7d or 36h",
            hint="e.g. --since 2026-11-01 or --since 7d",
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # naive means UTC here


def _homes(opts: HarvestOptions) -> dict[str, Path]:
    want = [s for s in SOURCES if s != "auto"] if opts.source == "auto" else [opts.source]
    if opts.source not in SOURCES:
        raise ConfigError(f"--source {opts.source!r} is not one of {', '.join(SOURCES)}")
    found: dict[str, Path] = {}
    for agent in want:
        mod = {"claude": claude, "codex": codex, "opencode": opencode, **READERS}[agent]
        h = mod.home(getattr(opts, f"{agent}_home"), opts.environ)
        if h.is_dir():
            found[agent] = h
        elif opts.source != "auto":
            flag = f"--{agent}-home"
            raise ConfigError(f"no {agent} home at {h}", hint=f"give {flag} DIR, or --source auto")
    return found


def _candidates(
    homes: dict[str, Path], project: str | None, problems: list[Problem]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for agent, h in homes.items():
        if agent == "opencode":  # one sqlite file, a candidate per session (see opencode.py)
            for row in opencode.discover(h, problems):
                out.append(_Candidate(agent, row.path, row.parts, row.updated_ms * 1_000_000,
                                      row.skip, opencode_row=row))
            continue
        files: list[tuple[Path, str | None, bool, Any]] = []
        if agent == "claude":
            files = [(sf.path, sf.skip, False, sf) for sf in claude.discover(h, problems, project)]
        elif agent == "codex":
            files = [(sf.path, sf.skip, sf.archived, None) for sf in codex.discover(h, problems)]
        else:
            files = [(p, None, False, None) for p in READERS[agent].discover(h, problems)]
        for path, skip, archived, cf in files:
            try:
                st = path.stat()
            except OSError as exc:
                problems.append(
                    Problem(file=str(path), what=f"cannot stat: {exc.strerror or exc}; skipped")
                )
                continue
            out.append(_Candidate(agent, path, st.st_size, st.st_mtime_ns, skip, archived, cf))
    out.sort(
        key=lambda c: c.mtime_ns, reverse=True
    )  # newest first: --max-sessions keeps the recent ones
    return out


def harvest(
    opts: HarvestOptions, store: HarvestStore, say: Callable[[str], None] = lambda _m: None
) -> HarvestReport:
    """Harvest new sessions into ``store``; the report (redacted) lists what happened to each."""
    now = datetime.now(UTC)
    project = str(opts.project.expanduser().resolve()) if opts.project else ""
    homes = _homes(opts)
    rep = HarvestReport(
        schema=REPORT_SCHEMA,
        at=now,
        project=project,
        sources={a: str(h) for a, h in homes.items()},
        since=opts.since,
    )
    if not homes:
        rep.problems.append(
            Problem(
                file=str(Path("~").expanduser()),
                what="no ~/.claude, ~/.codex, ~/.gemini or ~/.qwen found (give --claude-home, "
                "--codex-home, --gemini-home or --qwen-home)",
            )
        )
    if opts.since is not None and opts.since > now:
        rep.problems.append(
            Problem(
                file="--since",
                what=f"{opts.since.isoformat()} is in the future: no session can match",
            )
        )
    if project and not Path(project).is_dir():
        rep.problems.append(
            Problem(file=project, what="--project is not a directory on this machine")
        )
    cands = _candidates(homes, project or None, rep.problems)
    rep.found = len(cands)
    to_read = 0

    def skip(
        c: _Candidate, reason: str, session_id: str = "", memo: bool = True, cwd: str = ""
    ) -> None:
        rep.skipped += 1
        key = reason.split(" (")[0].split(":")[0]
        rep.skipped_reasons[key] = rep.skipped_reasons.get(key, 0) + 1
        rep.skipped_sessions.append(
            Skipped(
                file=str(c.path),
                agent=cast(Agent, c.agent),
                session_id=session_id,
                reason=reason,
            )
        )
        if memo:
            store.save(
                c.agent,
                str(c.path),
                c.size,
                c.mtime_ns,
                outcome="skipped",
                reason=reason,
                session_id=session_id,
                cwd=cwd,
            )

    for i, c in enumerate(cands, start=1):
        seen = store.file_seen(c.agent, str(c.path))
        if seen and seen["size"] == c.size and seen["mtime_ns"] == c.mtime_ns:
            if project and seen["cwd"] and not inside(seen["cwd"], project):
                skip(c, "outside --project", seen["session_id"] or "", memo=False)
                continue
            if seen["outcome"] != "outside":
                rep.unchanged += 1
                continue
            # read before under another --project, inside this one: read it now
        if c.skip:
            skip(c, c.skip)
            continue
        if opts.since is not None and c.mtime_ns / 1e9 < opts.since.timestamp():
            skip(c, "ended before --since", memo=False)
            continue
        if opts.max_sessions is not None and to_read >= opts.max_sessions:
            skip(c, "over --max-sessions (left for the next harvest)", memo=False)
            continue
        to_read += 1
        say(redact_text(f"[{i}/{len(cands)}] {c.agent} {c.path}"))
        try:
            _one(c, opts, project, store, rep, skip)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the harvest
            rep.problems.append(
                Problem(
                    file=str(c.path),
                    what=f"could not be read ({type(exc).__name__}: {exc}); skipped",
                )
            )
            skip(c, f"unreadable ({type(exc).__name__})", memo=False)
    store.record_run(
        project,
        rep.sources,
        {
            "found": rep.found,
            "read": rep.read,
            "kept": rep.kept,
            "unchanged": rep.unchanged,
            "skipped": rep.skipped,
            "skipped_reasons": rep.skipped_reasons,
        },
    )
    return HarvestReport.model_validate(redact_obj(rep.model_dump(mode="json", by_alias=True)))


def _one(
    c: _Candidate,
    opts: HarvestOptions,
    project: str,
    store: HarvestStore,
    rep: HarvestReport,
    skip: Callable[..., None],
) -> None:
    problems: list[Problem] = []
    reason: str | None = None
    b: SessionBuilder
    if c.agent == "claude":
        assert c.claude_file is not None
        b = claude.read(c.claude_file, problems)
    elif c.opencode_row is not None:
        b, reason = opencode.read(c.opencode_row, problems)
    elif c.agent == "codex":
        b, reason = codex.read(codex.SessionFile(c.path, c.archived), problems)
    else:
        b = READERS[c.agent].read(c.path, problems)
    rep.read += 1
    rep.problems.extend(problems)
    if project and not inside(b.cwd, project):
        store.save(
            c.agent,
            str(c.path),
            c.size,
            c.mtime_ns,
            outcome="outside",
            session_id=b.session_id,
            cwd=b.cwd,
        )
        skip(c, "outside --project", b.session_id, memo=False)
        return
    if reason is None and not b.has_prompt():
        reason = "no user prompt (nothing to replay)"
    last = max(b.times) if b.times else None
    if reason is None and opts.since is not None and (last is None or last < opts.since):
        skip(c, "ended before --since", b.session_id, memo=False)  # another --since may want it
        return
    if reason is not None:
        skip(c, reason, b.session_id, cwd=b.cwd)
        return
    start = repo.resolve(
        b.cwd,
        commit=str(b.git.get("commit_hash") or "") or None,
        branch=b.branch,
        first_time=b.first_time,
        repository_url=str(b.git.get("repository_url") or "") or None,
    )
    digest: Digest = b.build(start, project)
    digest = Digest.model_validate(redact_obj(digest.model_dump(mode="json", by_alias=True)))
    store.save(
        c.agent,
        str(c.path),
        c.size,
        c.mtime_ns,
        outcome="kept",
        session_id=digest.session_id,
        cwd=digest.cwd,
        digest=digest,
    )
    rep.kept += 1
    rep.digests.append(digest)
