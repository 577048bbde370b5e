"""One run from a :class:`RunConfig`: check the input, own the run, run it, gate it.

Why here and not in the CLI: everything between "the user asked for a run" and "the
decision" (suite and variants loaded, the Gateway chosen, the store row, the run lock, the
gate) is the runner's job; ``harness run`` only turns flags into a RunConfig and prints
the outcome, and any other caller gets the same run from the same config. Bad input is
rejected before any container starts, one line each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers.profiles import DEFAULT_MODELS
from harness.errors import ConfigError, ValidationFailed
from harness.executors import get_executor
from harness.runner.config import BARE_VARIANT, RunConfig
from harness.runner.ownership import RunLock
from harness.runner.paths import RunPaths
from harness.runner.store import Store

#: agent -> the model its CLI asks for by default: a view over what each profile declares
DEFAULT_MODEL = DEFAULT_MODELS

EventSink = Callable[[str, str], None]
#: given the Runner once it exists; returns what to hold open while it runs (a live view)
Watch = Callable[[Any], AbstractContextManager[Any]]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; carries the run id so the caller can say how to resume."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run leaves for the caller to show."""

    run_id: str
    paths: RunPaths
    config: RunConfig
    records: list[Any]          # gate.models.TrialRecord, from the store
    decision: Any | None        # gate.models.GateDecision with 2+ variants, else None


def stored_config(store: Store, root: Path, run_id: str) -> RunConfig:
    """The config ``run_id`` was started with (``--resume``)."""
    prev = store.run(run_id)
    if prev is None:
        raise ConfigError(f"no run {run_id!r} in {root}", hint="see `harness runs`")
    return RunConfig.from_stored(prev["config"])


def launch(cfg: RunConfig, root: Path, *, resume: str | None = None,
           on_event: EventSink | None = None, watch: Watch | None = None) -> RunOutcome:
    """Run (or finish, with ``resume``) one run and gate it; the run lock is held throughout."""
    store = Store(root / "harness.db")
    locks: list[RunLock] = []
    try:
        if resume:  # one run, one owner: refused while the owner lives, before anything starts
            locks.append(RunLock(RunPaths(root, resume).run_dir, resume).acquire())
        return _launch(cfg, root, store, resume, on_event or (lambda k, m: None),
                       watch or (lambda r: nullcontext()), locks)
    finally:
        for lock in locks:
            lock.release()
        store.close()


def _launch(cfg: RunConfig, root: Path, store: Store, resume: str | None, on_event: EventSink,
            watch: Watch, locks: list[RunLock]) -> RunOutcome:
    from controllers.profiles import get_profile
    from harness.runner.run import (
        Runner,
        RunOptions,
        check_variants,
        default_concurrency,
        new_run_id,
    )
    from harness.runner.variants import load_variant
    from harness.tasks import load_suite

    cfg.check()
    if cfg.gate_policy is not None:
        from gate.io import load_policy

        load_policy(cfg.gate_policy)  # bad thresholds are rejected before anything runs
    loaded = load_suite(cfg.suite)
    if cfg.model_mode in ("record", "live") and not loaded.config.reviewed:
        raise ConfigError(f"suite {cfg.suite} was mined and not reviewed: --model-mode {cfg.model_mode} refused",
                          hint="read its tasks, then set `reviewed: true` in its suite.yaml")
    agent = cfg.agent or loaded.agent or "claude"
    profile = get_profile(agent)
    if cfg.split:
        loaded = loaded.by_split(cfg.split)
    if cfg.tasks:
        loaded = loaded.select(ids=cfg.tasks) if hasattr(loaded, "select") else loaded
    if not loaded.tasks:
        raise ConfigError(f"suite {cfg.suite} has no task to run with these filters")
    if cfg.script is not None:
        _use_script(loaded, cfg.script)
    vspecs = _variant_specs(cfg.variants, loaded)
    variants = [load_variant(n, p) for n, p in vspecs.items()]
    check_variants(variants)
    cfg = cfg.model_copy(update={
        "suite": Path(cfg.suite).resolve(), "agent": agent, "trials": cfg.trials or loaded.trials or 1,
        "variants": {k: v if v == "none" else str(Path(v).resolve()) for k, v in vspecs.items()},
        "model_name": cfg.model_name or _default_model(profile) or "model",
        "cassette": cfg.cassette.resolve() if cfg.cassette else None,
        "script": cfg.script.resolve() if cfg.script else None,
        "gate_policy": cfg.gate_policy.resolve() if cfg.gate_policy else None,
    })
    gw_needed = getattr(profile, "needs_gateway", True)
    gateway = _gateway(cfg, loaded) if gw_needed else None
    run_id = resume or new_run_id()
    paths = RunPaths(root, run_id)
    try:
        opts = RunOptions(agent=agent, variants=variants, trials=cfg.trials or 1,
                          # ray: per node, 0 = each node's own default (its cores and memory)
                          concurrency=cfg.concurrency or (0 if cfg.executor == "ray" else default_concurrency()),
                          model=cfg.model_name or "model", timeout_sec=cfg.timeout, keep=cfg.keep,
                          fresh_sandbox=cfg.fresh_sandbox, provider=cfg.provider,
                          cassette=str(cfg.cassette) if cfg.cassette else None)
        if not resume:
            locks.append(RunLock(paths.run_dir, run_id).acquire())
            store.create_run(run_id, suite=str(cfg.suite), agent=agent, model_mode=cfg.model_mode,
                             config=cfg.stored())
        store.event(run_id, "start", f"{len(loaded.tasks)} tasks x {len(variants)} variants x {opts.trials}")
        from controllers.sandbox import owner

        owner.install_signal_handlers()
        runner = Runner(loaded, opts, paths, store, gateway=gateway, profile=profile, on_event=on_event)
        runner.write_run_files(cfg.stored())
        executor = get_executor(cfg.executor,
                                **({"address": cfg.ray_address} if cfg.executor == "ray" else {}))
        try:
            with watch(runner):
                executor.run(runner, runner.pending())
        except KeyboardInterrupt:
            raise RunInterrupted(run_id) from None
    finally:
        if gateway is not None:
            _save_gateway_log(gateway, paths)
            gateway.close()
    records = rewrite_trials(store, paths)
    store.set_run_status(run_id, "complete")
    decision = None
    if len(variants) > 1:
        from gate.verdict import gate_run

        decision, _ = gate_run(records, baseline=variants[0].name, policy=cfg.gate_policy,
                               variants_dir=paths.variants_dir, model_mode=cfg.model_mode,
                               report_dir=paths.report_dir, run_dir=paths.run_dir)
    return RunOutcome(run_id, paths, cfg, records, decision)


def _default_model(profile: Any) -> str | None:
    """The model the agent's profile declares (``spec.default_model``), if it declares one."""
    return getattr(getattr(profile, "spec", None), "default_model", None) or None


def _variant_specs(given: dict[str, str], suite: Any) -> dict[str, str]:
    """The variants to run, baseline first: the given ones, else suite.yaml's, else the bare
    agent (a benchmark run: no skill or memory file at all)."""
    out = dict(given) or {k: str(v) for k, v in suite.variants.items()} or {BARE_VARIANT: "none"}
    if "baseline" in out:
        out = {"baseline": out.pop("baseline"), **out}
    return out


def _use_script(suite: Any, script: Path) -> None:
    """``--script FILE``: the scripted model's rules for every task, checked first."""
    from harness.gateway.policy import check_policy  # the Gateway package is heavy to import

    if not script.is_file():
        raise ConfigError(f"--script {script}: no such file", hint="pass the scripted model's rules (YAML)")
    errors = check_policy(script.resolve(), where=str(script))
    if errors:
        raise ValidationFailed(f"--script {script} has {len(errors)} error(s)", errors)
    for task in suite.tasks:
        task.script = str(script.resolve())


def _gateway(cfg: RunConfig, suite: Any) -> Any:
    from harness.gateway.policy import Policy
    from harness.gateway.server import Gateway

    mode, cassette, budget = cfg.model_mode, cfg.cassette, cfg.budget_tokens
    if mode == "scripted":
        missing = [t.id for t in suite.tasks if t.policy_source() is None]
        if missing and len(missing) == len(suite.tasks):
            raise ConfigError(f"--model-mode scripted but no task has a script (e.g. {missing[0]})",
                              hint="give tasks a `script:`, pass --script FILE, or use --model-mode record/replay/live")
        return Gateway("scripted", policy=Policy(), budget_tokens=budget).start()
    if mode == "replay":
        if cassette is None or not cassette.is_file():
            raise ConfigError("--model-mode replay needs --cassette FILE (an existing cassette)")
        return Gateway("replay", cassette=cassette, budget_tokens=budget).start()
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("OPENAI_API_KEY")):
        raise ConfigError(f"--model-mode {mode} needs the real API key in ANTHROPIC_API_KEY or OPENAI_API_KEY",
                          hint="the key stays in the Gateway; containers get a dummy per-trial key")
    if mode == "record":
        if cassette is None:
            raise ConfigError("--model-mode record needs --cassette FILE to write")
        return Gateway("record", cassette=cassette, budget_tokens=budget).start()
    return Gateway("passthrough", budget_tokens=budget).start()


def _save_gateway_log(gateway: Any, paths: RunPaths) -> None:
    try:
        with paths.gateway_log.open("w") as fh:
            for e in gateway.events:
                fh.write(json.dumps(e.__dict__ if hasattr(e, "__dict__") else str(e), default=str) + "\n")
    except OSError:
        pass


def rewrite_trials(store: Store, paths: RunPaths) -> list[Any]:
    """trials.jsonl from the store (the source of truth), atomically."""
    from gate.models import TrialRecord

    rows = store.trials(paths.run_id)
    fields = set(TrialRecord.model_fields)
    records = []
    for r in rows:
        data = {k: v for k, v in r.items() if k in fields}
        data["artifacts"] = {"dir": r.get("artifacts")} if isinstance(r.get("artifacts"), str) else r.get("artifacts", {})
        data["check_results"] = r.get("check_results") or r.get("checks") or []
        records.append(TrialRecord.model_validate(data))
    tmp = paths.trials_file.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(rec.model_dump_json() + "\n" for rec in records))
    tmp.replace(paths.trials_file)
    return records
