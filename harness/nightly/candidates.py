"""The night's candidates: the user's folders and git refs, and the proposer's edits.

Each candidate becomes a project-layout folder under ``<night>/candidates/<name>/`` (the
live targets, with the candidate's files in place of the ones it supplies), which is what
``stage`` maps onto the live files, and a variant folder under ``<night>/variants/<name>/``,
which is what the run installs. A candidate that cannot be read (a bad ref, a proposer reply
that is not an edit set) is recorded with its reason and the night goes on with the others;
a candidate identical to the live files is recorded and not replayed (it cannot win).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.nightly import layout
from harness.nightly.config import NightlyConfig
from harness.nightly.records import CandidateOutcome

Say = Callable[[str], None]


@dataclass(frozen=True)
class NightDirs:
    """``<runs>/nightly/<night id>/``: suite/, candidates/<name>/, variants/<name>/, stage/,
    report/, gate-policy.yaml."""

    root: Path

    @property
    def suite(self) -> Path:
        return self.root / "suite"

    def tree(self, name: str) -> Path:
        return self.root / "candidates" / name

    def variant(self, name: str) -> Path:
        return self.root / "variants" / name

    @property
    def stage(self) -> Path:
        return self.root / "stage"

    @property
    def report(self) -> Path:
        return self.root / "report"


def _name(prefix: str, text: str, taken: set[str]) -> str:
    base = f"{prefix}-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x")
    base, name, n = base[:50], base[:50], 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def baseline(cfg: NightlyConfig, dirs: NightDirs) -> str:
    """The live targets as they are now, as the baseline variant (returns its folder)."""
    layout.complete(cfg.project, cfg.targets, None, dirs.tree("baseline"))
    return str(layout.to_variant(dirs.tree("baseline"), cfg.targets, dirs.variant("baseline")))


def _finish(cfg: NightlyConfig, dirs: NightDirs, out: CandidateOutcome, given: Path,
            live_digest: str) -> CandidateOutcome:
    tree = dirs.tree(out.name)
    supplied = layout.complete(cfg.project, cfg.targets, given, tree)
    out.path = str(tree)
    if not supplied:
        out.verdict, out.reason = "skipped", f"holds none of the targets ({', '.join(cfg.targets)})"
    elif layout.tree_digest(tree, cfg.targets) == live_digest:
        out.verdict, out.reason = "skipped", "identical to the live files"
    else:
        layout.to_variant(tree, cfg.targets, dirs.variant(out.name))
    return out


def gather(cfg: NightlyConfig, dirs: NightDirs, *, night_id: str, db_path: Path,
           evidence_runs: list[Path], say: Say) -> list[CandidateOutcome]:
    """Every configured candidate, in config order: folders, git refs, then the proposer's."""
    live = layout.tree_digest(cfg.project, cfg.targets)
    taken = {"baseline", "previous"}
    outs: list[CandidateOutcome] = []
    for folder in cfg.candidates.folders:
        c = CandidateOutcome(name=_name("folder", folder.name, taken), source="folder")
        outs.append(_finish(cfg, dirs, c, folder, live))
    for ref in cfg.candidates.git_refs:
        c = CandidateOutcome(name=_name("git", ref, taken), source="git")
        raw = dirs.root / "git" / c.name
        try:
            layout.from_git(cfg.project, ref, cfg.targets, raw)
        except ConfigError as exc:
            c.verdict, c.reason = "invalid", exc.one_line()
            outs.append(c)
            continue
        outs.append(_finish(cfg, dirs, c, raw, live))
    if cfg.candidates.proposer is not None:
        outs.append(_propose(cfg, dirs, night_id, db_path, evidence_runs, live, taken, say))
    for c in outs:
        say(f"{c.name}: {c.verdict or 'ready'}" + (f" ({c.reason})" if c.reason else ""))
    return outs


def _propose(cfg: NightlyConfig, dirs: NightDirs, night_id: str, db_path: Path,
             evidence_runs: list[Path], live: str, taken: set[str], say: Say) -> CandidateOutcome:
    """The proposer's candidate, through a Gateway this stage starts and closes."""
    c = CandidateOutcome(name=_name("proposed", night_id, taken), source="proposer")
    p = cfg.candidates.proposer
    assert p is not None
    try:  # another developer's module (issue 13 item 2); imported here so its absence is one line
        from harness.propose.run import ProposeOptions, propose
    except ImportError as exc:
        c.verdict, c.reason = "invalid", f"the proposer is not available in this build ({exc})"
        return c
    gw = proposer_gateway(cfg)
    try:
        with gw.start():
            key = gw.register_trial(f"propose-{night_id}")
            opts = ProposeOptions(base_url=gw.url, api_key=key.key, model=p.model,
                                  max_edits=p.max_edits, max_bytes=p.max_bytes,
                                  project=str(cfg.project), night_id=night_id, db_path=db_path)
            prop = propose(evidence_runs, {t: cfg.project / t for t in cfg.targets},
                           dirs.root / "proposer", opts)
    except HarnessError as exc:
        c.verdict, c.reason = "invalid", f"proposer failed: {exc.one_line()}"
        return c
    c.edits = list(prop.edits or [])
    if not prop.ok or prop.candidate_dir is None:
        c.verdict, c.reason = "invalid", f"proposer reply rejected: {prop.error or 'no candidate'}"
        return c
    say(f"proposer: {len(c.edits)} edit(s)")
    return _finish(cfg, dirs, c, Path(prop.candidate_dir), live)


def proposer_gateway(cfg: NightlyConfig) -> Any:
    """A Gateway for the proposer in the night's model mode (the key stays in it)."""
    from harness.gateway.server import Gateway

    m = cfg.model
    script = (cfg.candidates.proposer.script if cfg.candidates.proposer else None) or m.script
    if m.mode == "scripted":
        if script is None:
            raise ConfigError("the proposer under model.mode scripted needs a script",
                              hint="set candidates.proposer.script or model.script")
        return Gateway("scripted", policy=script)
    if m.mode == "replay":
        return Gateway("replay", cassette=m.cassette)
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("OPENAI_API_KEY")):
        raise ConfigError(f"model.mode {m.mode} needs the real key in ANTHROPIC_API_KEY",
                          hint="it stays in the Gateway; or use model.mode scripted/replay")
    if m.mode == "record":
        assert m.cassette is not None
        return Gateway("record", cassette=m.cassette.with_suffix(".proposer" + m.cassette.suffix))
    return Gateway("passthrough")
