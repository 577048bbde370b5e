"""``nightly.yaml``: what one night of one project does, validated with every error at once.

Why every error at once: a nightly job is set up once and then runs unattended; a user who
fixes one field per failed night loses a week. So the pydantic errors and the checks pydantic
cannot make (paths that must exist, a gate policy file's own fields) are gathered into one
:class:`ValidationFailed`, each with its field path. Relative paths resolve against the
config file's folder, so the file means the same thing from cron and from a shell.

Example::

    project: ../myrepo                 # the user's repo (its sessions are harvested)
    sources: {claude_home: ~/.claude, codex_home: ~/.codex, since: 7d}
    targets: [.claude/skills/fixer, CLAUDE.md]   # relative to the project
    agents: [claude]
    trials: 2
    model: {mode: scripted, script: policy.yaml}
    budgets: {tokens: 2000000, wall_minutes: 120}
    gate_policy: {min_heldout_tasks: 3}          # or a path to a policy file
    frozen_suite: suites/frozen                  # optional
    candidates:
      folders: [candidates/tighter]
      git_refs: [skill-v2]
      proposer: {model: claude-sonnet-4-5, max_edits: 3, max_bytes: 20000}
    adopt: stage                                 # or auto: adopt when the gate accepts
    mine: {holdout_fraction: 0.34, max_tasks: 20}
    runs_dir: runs
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError, LocatedError, ValidationFailed

MEMORY_FILES = ("CLAUDE.md", "AGENTS.md")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sources(_Strict):
    """Where the sessions to harvest are (defaults: $CLAUDE_CONFIG_DIR / ~/.claude, ~/.codex)."""

    claude_home: Path | None = None
    codex_home: Path | None = None
    since: str | None = None          # ISO date/time or a span back (7d, 36h)
    max_sessions: int | None = Field(default=None, ge=1)


class ModelCfg(_Strict):
    """The model behind the Gateway the agents (and the proposer) talk to."""

    mode: Literal["scripted", "record", "replay", "live"] = "scripted"
    name: str | None = None
    script: Path | None = None        # scripted: the model's rules (YAML) for every task
    cassette: Path | None = None      # record (written) / replay (read)


class Budgets(_Strict):
    tokens: int = Field(default=2_000_000, gt=0)
    wall_minutes: float = Field(default=240.0, gt=0)


class ProposerCfg(_Strict):
    model: str = "claude-sonnet-4-5"
    max_edits: int = Field(default=3, ge=1)
    max_bytes: int = Field(default=20_000, ge=1)
    script: Path | None = None        # scripted mode: the proposer's own rules (else model.script)


class Candidates(_Strict):
    folders: list[Path] = Field(default_factory=list)   # laid out like the project
    git_refs: list[str] = Field(default_factory=list)   # the targets as they are at that ref
    proposer: ProposerCfg | None = None


class MineCfg(_Strict):
    threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    min_occurrences: int = Field(default=2, ge=1)
    holdout_fraction: float = Field(default=0.34, ge=0.0, le=1.0)
    seed: int = 0
    max_tasks: int | None = Field(default=None, ge=1)
    allow_no_repo: bool = False
    timeout_sec: int = Field(default=900, ge=1)
    #: replay the mined tasks with a real model (record/live) without reading them first
    accept_unreviewed: bool = False


class NightlyConfig(_Strict):
    project: Path
    sources: Sources = Field(default_factory=Sources)
    targets: list[str] = Field(min_length=1)
    agents: list[str] = Field(default_factory=lambda: ["claude"], min_length=1)
    trials: int = Field(default=1, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    #: where the replays run: local, or ray (a Ray cluster's Docker hosts; see the README's
    #: "Running on a cluster"); ray_address: its head, HOST:PORT
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    model: ModelCfg = Field(default_factory=ModelCfg)
    budgets: Budgets = Field(default_factory=Budgets)
    gate_policy: Path | dict[str, Any] | None = None
    frozen_suite: Path | None = None
    candidates: Candidates = Field(default_factory=Candidates)
    adopt: Literal["stage", "auto"] = "stage"
    mine: MineCfg = Field(default_factory=MineCfg)
    runs_dir: Path | None = None
    #: the file it was read from (not a field a user writes)
    source_file: Path | None = Field(default=None, exclude=True)

    def target_path(self, rel: str) -> Path:
        return self.project / rel


def _resolve(base: Path, p: Path | None) -> Path | None:
    return None if p is None else (base / p.expanduser()).resolve()


def _resolve_all(cfg: NightlyConfig, base: Path) -> NightlyConfig:
    s, m, c = cfg.sources, cfg.model, cfg.candidates
    upd: dict[str, Any] = {
        "project": _resolve(base, cfg.project),
        "sources": s.model_copy(update={"claude_home": _resolve(base, s.claude_home),
                                        "codex_home": _resolve(base, s.codex_home)}),
        "model": m.model_copy(update={"script": _resolve(base, m.script),
                                      "cassette": _resolve(base, m.cassette)}),
        "frozen_suite": _resolve(base, cfg.frozen_suite),
        "runs_dir": _resolve(base, cfg.runs_dir),
        "candidates": c.model_copy(update={
            "folders": [_resolve(base, f) for f in c.folders],
            "proposer": c.proposer.model_copy(update={"script": _resolve(base, c.proposer.script)})
            if c.proposer else None}),
    }
    if isinstance(cfg.gate_policy, Path):
        upd["gate_policy"] = _resolve(base, cfg.gate_policy)
    return cfg.model_copy(update=upd)


def _target_problem(project: Path, rel: str) -> str | None:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        return "must be a path inside the project, relative to it"
    full = project / p
    if not full.exists():
        return f"{full} does not exist"
    if full.is_dir():
        return None if (full / "SKILL.md").is_file() else f"{full} is a folder without SKILL.md"
    if full.name not in ("SKILL.md", *MEMORY_FILES):
        return f"{full.name} is not SKILL.md, CLAUDE.md, AGENTS.md or a SKILL.md folder"
    return None


def _semantic(cfg: NightlyConfig) -> list[LocatedError]:
    """What pydantic cannot see: files that must exist, agents that must be known."""
    errs: list[LocatedError] = []

    def bad(where: str, msg: str) -> None:
        errs.append(LocatedError(where, msg))

    if not cfg.project.is_dir():
        bad("project", f"{cfg.project} is not a folder")
    else:
        names: dict[str, str] = {}
        for i, t in enumerate(cfg.targets):
            why = _target_problem(cfg.project, t)
            if why:
                bad(f"targets[{i}]", why)
            base = Path(t).name
            if base in MEMORY_FILES and base in names:
                bad(f"targets[{i}]", f"a second {base} (also {names[base]}): one of each is installed")
            names.setdefault(base, t)
    from controllers.profiles import names as agent_names

    known = agent_names()
    for i, a in enumerate(cfg.agents):
        if a not in known:
            bad(f"agents[{i}]", f"unknown agent {a!r}; use one of {', '.join(known)}")
    if len(set(cfg.agents)) != len(cfg.agents):
        bad("agents", "an agent is named twice")
    for key, home in (("claude_home", cfg.sources.claude_home), ("codex_home", cfg.sources.codex_home)):
        if home is not None and not home.is_dir():
            bad(f"sources.{key}", f"{home} is not a folder")
    if cfg.sources.since:
        from harness.harvest.run import parse_since

        try:
            parse_since(cfg.sources.since)
        except ConfigError as exc:
            bad("sources.since", str(exc))
    m = cfg.model
    if m.mode == "scripted" and m.script is None:
        bad("model.script", "model.mode scripted needs script: the scripted model's rules (YAML)")
    if m.script is not None and not m.script.is_file():
        bad("model.script", f"{m.script} does not exist")
    if m.mode == "replay" and (m.cassette is None or not m.cassette.is_file()):
        bad("model.cassette", "model.mode replay needs an existing cassette")
    if m.mode == "record" and m.cassette is None:
        bad("model.cassette", "model.mode record needs cassette: the file to write")
    if m.mode in ("record", "live") and not cfg.mine.accept_unreviewed:
        bad("mine.accept_unreviewed", f"model.mode {m.mode} replays mined tasks with a real model; "
            "set accept_unreviewed: true to allow it unreviewed")
    if cfg.frozen_suite is not None and not cfg.frozen_suite.exists():
        bad("frozen_suite", f"{cfg.frozen_suite} does not exist")
    for i, f in enumerate(cfg.candidates.folders):
        if not f.is_dir():
            bad(f"candidates.folders[{i}]", f"{f} is not a folder")
    for i, ref in enumerate(cfg.candidates.git_refs):
        if not ref or ref.startswith("-") or not re.fullmatch(r"[\w./@^~{}-]+", ref):
            bad(f"candidates.git_refs[{i}]", f"{ref!r} is not a git ref")
    p = cfg.candidates.proposer
    if p is not None and p.script is not None and not p.script.is_file():
        bad("candidates.proposer.script", f"{p.script} does not exist")
    errs += _policy_errors(cfg.gate_policy)
    return errs


def _policy_errors(policy: Path | dict[str, Any] | None) -> list[LocatedError]:
    from gate.decision import GatePolicy
    from gate.io import load_policy

    if policy is None:
        return []
    if isinstance(policy, Path):
        if not policy.is_file():
            return [LocatedError("gate_policy", f"{policy} does not exist")]
        try:
            load_policy(policy)
        except ValidationFailed as exc:
            return [LocatedError(f"gate_policy ({e.where})", e.message) for e in exc.errors]
        except ConfigError as exc:
            return [LocatedError("gate_policy", str(exc))]
        return []
    try:
        GatePolicy.model_validate(policy)
    except ValidationError as exc:
        return [LocatedError("gate_policy." + ".".join(str(x) for x in e["loc"]), e["msg"])
                for e in exc.errors()]
    return []


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for x in loc:
        out += f"[{x}]" if isinstance(x, int) else (("." if out else "") + str(x))
    return out or "(top)"


def parse_config(data: Any, *, where: str, base: Path) -> NightlyConfig:
    """A config from parsed YAML; every problem in one :class:`ValidationFailed`."""
    what = f"nightly config {where}"
    if not isinstance(data, dict):
        raise ValidationFailed(what, [LocatedError(where, "expected a mapping of settings")])
    try:
        cfg = NightlyConfig.model_validate(data)
    except ValidationError as exc:
        errs = []
        for e in exc.errors():
            loc = e["loc"]
            if loc and loc[0] == "gate_policy" and len(loc) > 1:
                continue  # a Path|dict union reports both branches; checked below, once
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            errs.append(LocatedError(_loc(loc), msg))
        # the fields pydantic accepted can still be checked: report those problems too
        partial = {k: v for k, v in data.items() if k in NightlyConfig.model_fields}
        if isinstance(partial.get("gate_policy"), dict):
            errs += _policy_errors(partial["gate_policy"])
        errs += _partial_paths(partial, base)
        raise ValidationFailed(what, errs) from None
    cfg = _resolve_all(cfg, base)
    errs = _semantic(cfg)
    if errs:
        raise ValidationFailed(what, errs)
    return cfg


def _partial_paths(data: dict[str, Any], base: Path) -> list[LocatedError]:
    """Missing project / targets even when another field failed pydantic."""
    errs: list[LocatedError] = []
    proj = data.get("project")
    if not isinstance(proj, str):
        return errs
    project = (base / Path(proj).expanduser()).resolve()
    if not project.is_dir():
        return [LocatedError("project", f"{project} is not a folder")]
    for i, t in enumerate(data.get("targets") or []):
        if isinstance(t, str):
            why = _target_problem(project, t)
            if why:
                errs.append(LocatedError(f"targets[{i}]", why))
    return errs


def load_config(path: Path) -> NightlyConfig:
    """``nightly.yaml`` from disk; an unreadable file is one line, bad fields all at once."""
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read nightly config {path}: {exc.strerror or exc}",
                          hint="pass --config nightly.yaml") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"nightly config {path}", [LocatedError(str(path), f"YAML: {exc}")]) from None
    cfg = parse_config(data, where=str(path), base=path.resolve().parent)
    return cfg.model_copy(update={"source_file": path.resolve()})
