"""``harness run`` and the commands that look at runs: runs, show, attach, watch, play.

Bad input is rejected before any container starts, one line each: a suite with errors
(every error with its place), a missing variant path, an unknown agent, a model mode
without what it needs (no key for record/live, no cassette for replay, no policy for a
scripted task).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from harness.errors import ConfigError
from harness.runner.ownership import RunLock
from harness.runner.paths import RunPaths, default_runs_root
from harness.runner.store import Store

app = typer.Typer()
console = Console(highlight=False)

MODEL_MODES = ("scripted", "record", "replay", "live")
from controllers.profiles import DEFAULT_MODELS as DEFAULT_MODEL  # each agent declares its own

RunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="Where runs live [./runs or $HARNESS_RUNS_DIR].")]


def _store(runs_dir: Path | None) -> tuple[Path, Store]:
    root = (runs_dir or default_runs_root()).resolve()
    return root, Store(root / "harness.db")


@app.command()
def run(
    ctx: typer.Context,
    suite: Annotated[Path | None, typer.Argument(help="Suite folder or file (not needed with --resume).")] = None,
    agent: Annotated[str | None, typer.Option(help="claude, codex, oracle, noop (default: suite.yaml's, else claude).")] = None,
    variant: Annotated[list[str] | None, typer.Option("--variant", "-v", help="NAME=PATH; the first (or one named 'baseline') is the baseline. Default: suite.yaml's variants.")] = None,
    trials: Annotated[int | None, typer.Option("--trials", "-k", min=1, help="Attempts per task and variant (default: suite.yaml's, else 1).")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-j", min=1, help="Trials at once [cores].")] = None,
    model: Annotated[str, typer.Option(help="scripted | record | replay | live.")] = "scripted",
    model_name: Annotated[str | None, typer.Option(help="Model name the CLI asks for.")] = None,
    cassette: Annotated[Path | None, typer.Option(help="Cassette for record (written) / replay (read).")] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="Stop new model work past this many tokens.")] = None,
    split: Annotated[str | None, typer.Option(help="Only tasks of this split (train, heldout, frozen).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these task ids.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per-trial timeout in seconds (overrides tasks).")] = None,
    keep: Annotated[bool, typer.Option(help="Keep containers after the run (to attach / inspect).")] = False,
    fresh_sandbox: Annotated[bool, typer.Option("--fresh-sandbox", help="A new container for every trial (no warm reuse of a task's container; slower).")] = False,
    provider: Annotated[str, typer.Option(help="Where trials run: docker, local (a directory, no isolation), or module:Class.")] = "docker",
    gate: Annotated[bool, typer.Option("--gate", help="Decide and exit 0 accept, 1 reject, 2 inconclusive.")] = False,
    gate_policy: Annotated[Path | None, typer.Option(help="Gate thresholds (YAML/JSON), e.g. max_token_ratio, min_heldout_tasks.")] = None,
    resume: Annotated[str | None, typer.Option(help="Finish run RUN (re-runs only incomplete trials).")] = None,
    runs_dir: RunsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of tables.")] = False,
) -> None:
    """Replay a suite with each variant, score every trial, and (with 2+ variants) gate."""
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

    root, store = _store(runs_dir)
    if resume:
        prev = store.run(resume)
        if prev is None:
            raise ConfigError(f"no run {resume!r} in {root}", hint="see `harness runs`")
        cfg = prev["config"]
        suite, agent, variant = Path(cfg["suite"]), cfg["agent"], [f"{k}={v}" for k, v in cfg["variants"].items()]
        trials, model, model_name = cfg["trials"], cfg["model"], cfg["model_name"]
        split, task, timeout = cfg.get("split"), cfg.get("tasks"), cfg.get("timeout")
        cassette = Path(cfg["cassette"]) if cfg.get("cassette") else None
        fresh_sandbox = fresh_sandbox or bool(cfg.get("fresh_sandbox"))
        provider = cfg.get("provider", provider)
        # one run, one owner: refused while the owner lives, before anything starts
        ctx.call_on_close(RunLock(RunPaths(root, resume).run_dir, resume).acquire().release)
    if timeout is not None and not 0 < timeout < float("inf"):
        raise ConfigError(f"--timeout must be a number of seconds > 0, got {timeout:g}",
                          hint="e.g. --timeout 300, or leave it out to use each task's timeout_sec")
    if suite is None:
        raise ConfigError("no suite given", hint="harness run SUITE_PATH ...")
    if gate_policy is not None:
        from gate.io import load_policy

        load_policy(gate_policy)  # bad thresholds are rejected before anything runs
    if model not in MODEL_MODES:
        raise ConfigError(f"--model {model!r} unknown", hint=f"use one of {', '.join(MODEL_MODES)}")
    loaded = load_suite(suite)
    if model in ("record", "live") and not loaded.config.reviewed:
        raise ConfigError(f"suite {suite} was mined and not reviewed: --model {model} refused",
                          hint="read its tasks, then set `reviewed: true` in its suite.yaml")
    agent = agent or loaded.agent or "claude"
    trials = trials or loaded.trials or 1
    profile = get_profile(agent)
    if split:
        loaded = loaded.by_split(split)
    if task:
        loaded = loaded.select(ids=task) if hasattr(loaded, "select") else loaded
    if not loaded.tasks:
        raise ConfigError(f"suite {suite} has no task to run with these filters")
    vspecs = _variant_specs(variant, loaded)
    variants = [load_variant(n, p) for n, p in vspecs.items()]
    check_variants(variants)
    gw_needed = getattr(profile, "needs_gateway", True)
    gateway = _gateway(model, loaded, cassette, budget_tokens) if gw_needed else None
    run_id = resume or new_run_id()
    paths = RunPaths(root, run_id)
    opts = RunOptions(agent=agent, variants=variants, trials=trials,
                      concurrency=concurrency or default_concurrency(),
                      model=model_name or DEFAULT_MODEL.get(agent, "model"), timeout_sec=timeout, keep=keep,
                      fresh_sandbox=fresh_sandbox, provider=provider)
    config = {"suite": str(Path(suite).resolve()), "agent": agent, "variants": {k: str(Path(v).resolve()) if v != "none" else "none" for k, v in vspecs.items()},
              "trials": trials, "model": model, "model_name": opts.model, "split": split, "tasks": task,
              "timeout": timeout, "cassette": str(cassette.resolve()) if cassette else None,
              "concurrency": opts.concurrency, "fresh_sandbox": fresh_sandbox, "provider": provider}
    if not resume:
        ctx.call_on_close(RunLock(paths.run_dir, run_id).acquire().release)
        store.create_run(run_id, suite=config["suite"], agent=agent, model_mode=model, config=config)
    store.event(run_id, "start", f"{len(loaded.tasks)} tasks x {len(variants)} variants x {trials}")
    from controllers.sandbox import owner

    owner.install_signal_handlers()
    live = _Live(as_json)
    runner = Runner(loaded, opts, paths, store, gateway=gateway, profile=profile, on_event=live.event)
    runner.write_run_files(config)
    live.runner = runner
    try:
        with live:
            runner.run()
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]: resume with `harness run --resume {run_id}`")
        raise typer.Exit(130) from None
    finally:
        if gateway is not None:
            _save_gateway_log(gateway, paths)
            gateway.close()
    records = _rewrite_trials(store, paths)
    store.set_run_status(run_id, "complete")
    decision = _gate(paths, records, variants, gate_policy, model) if len(variants) > 1 else None
    _summary(run_id, paths, records, decision, as_json)
    if gate:
        raise typer.Exit(decision.exit_code if decision is not None else 2)


def _variant_specs(flags: list[str] | None, suite: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in flags or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--variant {item!r} must be NAME=PATH (PATH may be 'none')")
        out[name] = path
    if not out:
        out = {k: str(v) for k, v in suite.variants.items()}
    if not out:
        raise ConfigError("no variants", hint="pass --variant baseline=PATH [--variant candidate=PATH]")
    if "baseline" in out:
        out = {"baseline": out.pop("baseline"), **out}
    return out


def _gateway(mode: str, suite: Any, cassette: Path | None, budget: int | None) -> Any:
    from harness.gateway.policy import Policy
    from harness.gateway.server import Gateway

    if mode == "scripted":
        missing = [t.id for t in suite.tasks if t.policy_source() is None]
        if missing and len(missing) == len(suite.tasks):
            raise ConfigError(f"--model scripted but no task has a policy (e.g. {missing[0]})",
                              hint="give tasks a `policy:` or use --model record/replay/live")
        return Gateway("scripted", policy=Policy(), budget_tokens=budget).start()
    if mode == "replay":
        if cassette is None or not cassette.is_file():
            raise ConfigError("--model replay needs --cassette FILE (an existing cassette)")
        return Gateway("replay", cassette=cassette, budget_tokens=budget).start()
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("OPENAI_API_KEY")):
        raise ConfigError(f"--model {mode} needs the real API key in ANTHROPIC_API_KEY or OPENAI_API_KEY",
                          hint="the key stays in the Gateway; containers get a dummy per-trial key")
    if mode == "record":
        if cassette is None:
            raise ConfigError("--model record needs --cassette FILE to write")
        return Gateway("record", cassette=cassette, budget_tokens=budget).start()
    return Gateway("passthrough", budget_tokens=budget).start()


def _save_gateway_log(gateway: Any, paths: RunPaths) -> None:
    try:
        with paths.gateway_log.open("w") as fh:
            for e in gateway.events:
                fh.write(json.dumps(e.__dict__ if hasattr(e, "__dict__") else str(e), default=str) + "\n")
    except OSError:
        pass


def _rewrite_trials(store: Store, paths: RunPaths) -> list[Any]:
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
    tmp = paths.run_dir / "trials.jsonl.tmp"
    tmp.write_text("".join(rec.model_dump_json() + "\n" for rec in records))
    tmp.replace(paths.run_dir / "trials.jsonl")
    return records


def _gate(paths: RunPaths, records: list[Any], variants: list[Any], policy_file: Path | None,
          model_mode: Any = None) -> Any:
    from gate.decision import decide
    from gate.io import load_policy, read_text_files
    from gate.report import write_reports

    files = {v.name: read_text_files(paths.run_dir / "variants" / v.name)
             for v in variants if (paths.run_dir / "variants" / v.name).is_dir()}
    base = variants[0].name
    decision = decide(records, baseline=base, policy=load_policy(policy_file), candidate_files={k: v for k, v in files.items() if k != base} or None,
                      baseline_files=files.get(base), model_mode=model_mode)
    write_reports(decision, records, paths.run_dir / "report", run_dir=paths.run_dir)
    return decision


def _summary(run_id: str, paths: RunPaths, records: list[Any], decision: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "run_id": run_id, "run_dir": str(paths.run_dir),
            "trials": [{"task": r.task_id, "variant": r.variant, "attempt": r.attempt, "status": r.status,
                        "reason": r.reason} for r in records],
            "decision": decision.decision if decision else None,
            "reasons": decision.reasons if decision else [],
        }))
        return
    t = Table("task", "variant", "try", "status", "reason", title=f"run {run_id}")
    for r in records:
        color = {"passed": "green", "failed": "red", "timeout": "yellow"}.get(r.status, "magenta")
        t.add_row(r.task_id, r.variant, str(r.attempt), f"[{color}]{r.status}[/{color}]", r.reason[:90])
    console.print(t)
    if decision is not None:
        console.print(f"gate: [bold]{decision.decision}[/bold]" + (f" ({decision.chosen})" if decision.chosen else ""))
        for reason in decision.reasons[:8]:
            console.print(f"  - {reason}")
        console.print(f"report: {paths.run_dir / 'report' / 'report.md'}")
    console.print(f"artifacts: {paths.run_dir}")


class _Live:
    """Live progress on a terminal (done, running, failed, ETA); plain lines otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.runner: Any = None
        self.tty = sys.stderr.isatty()
        self._live: Any = None
        self.err = Console(stderr=True, highlight=False)

    def __enter__(self) -> _Live:
        if self.tty and not self.quiet:
            from rich.live import Live

            self._live = Live(self._render(), console=self.err, refresh_per_second=4, transient=False,
                              get_renderable=self._render)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def _render(self) -> Any:
        p = self.runner.progress if self.runner else None
        if p is None:
            return ""
        eta = p.eta_sec()
        return (f"[bold]{p.done}/{p.total}[/bold] done · {p.running} running · [green]{p.passed} passed[/green] · "
                f"[red]{p.failed} failed[/red] · [magenta]{p.unscorable} unscorable[/magenta] · "
                f"ETA {'?' if eta is None else f'{eta:.0f}s'}")

    def event(self, kind: str, msg: str) -> None:
        if self.quiet:
            return
        if kind in ("done", "image", "infra_error") or (kind == "start" and not self.tty):
            self.err.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {kind}: {msg}")


@app.command()
def runs(runs_dir: RunsDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The runs in the store, newest first."""
    _, store = _store(runs_dir)
    rows = store.runs()
    if as_json:
        print(json.dumps(rows, default=str))
        return
    t = Table("run", "status", "agent", "model", "trials", "passed", "suite")
    for r in rows:
        t.add_row(r["id"], r["status"], r["agent"], r["model_mode"], str(r["trials"]), str(r["passed"] or 0), r["suite"])
    console.print(t)


@app.command()
def show(run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest).")] = None, runs_dir: RunsDir = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run: its trials with status, reason and artifacts."""
    root, store = _store(runs_dir)
    run_id = run_id or store.latest_run_id()
    info = store.run(run_id) if run_id else None
    if info is None:
        raise ConfigError(f"no run {run_id!r} in {root}", hint="see `harness runs`")
    trials = store.trials(run_id)
    if as_json:
        print(json.dumps({"run": info, "trials": trials}, default=str))
        return
    console.print(f"run {run_id}: {info['status']} · agent {info['agent']} · model {info['model_mode']} · {info['suite']}")
    t = Table("task", "variant", "try", "status", "reason", "artifacts")
    for r in trials:
        t.add_row(r["task_id"], r["variant"], str(r["attempt"]), r["status"], str(r.get("reason", ""))[:70],
                  str(RunPaths(root, run_id).run_dir / str(r.get("artifacts") or "")))
    console.print(t)


@app.command()
def attach(run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest).")] = None,
           trial: Annotated[str | None, typer.Argument(help="TASK/VARIANT/ATTEMPT (default: the newest running).")] = None,
           runs_dir: RunsDir = None,
           print_only: Annotated[bool, typer.Option("--print", help="Print the command instead of running it.")] = False,
           read_only: Annotated[bool, typer.Option("--read-only", "-r", help="Watch without typing into it.")] = False) -> None:
    """Drop into a running trial's tmux pane (detach with C-b d). Works at any concurrency."""
    root, store = _store(runs_dir)
    run_id = run_id or store.latest_run_id()
    if not run_id:
        raise ConfigError(f"no runs in {root}")
    attaches = [e for e in store.events(run_id, limit=100000) if e["kind"] == "attach"]
    done = {f"{t['task_id']}/{t['variant']}/{t['attempt']}" for t in store.trials(run_id)}
    live = [e for e in attaches if e["trial"] not in done or (trial and e["trial"] == trial)]
    if trial:
        live = [e for e in live if e["trial"] == trial]
    if not live:
        raise ConfigError(f"no running trial{' ' + trial if trial else ''} in run {run_id}",
                          hint="finished trials: `harness play RUN TRIAL`; keep containers with --keep")
    cmd = live[-1]["message"] + (" -r" if read_only else "")  # attach-session ... -r: a read-only client
    if print_only:
        print(cmd)
        return
    os.execvp("sh", ["sh", "-c", cmd])


@app.command()
def watch(run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest).")] = None, runs_dir: RunsDir = None,
          interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
          lines: Annotated[int, typer.Option(help="Screen lines shown per running trial.")] = 12,
          panes: Annotated[int, typer.Option(help="Running trials shown at once (the newest).")] = 4,
          once: Annotated[bool, typer.Option(help="Show once and exit.")] = False) -> None:
    """Follow a run read-only: the live screens of its running trials, its progress and
    events (Ctrl-C stops watching, never the run). To type into a pane: `harness attach`."""
    root, store = _store(runs_dir)
    run_id = run_id or store.latest_run_id()
    if not run_id:
        raise ConfigError(f"no runs in {root}")
    if store.run(run_id) is None:
        raise ConfigError(f"no run {run_id} in {root}", hint="`harness runs` lists them")
    if once or not console.is_terminal:
        console.print(_watch_view(store, run_id, lines, panes))
        if once:
            return
    from rich.live import Live

    with Live(_watch_view(store, run_id, lines, panes), console=console, refresh_per_second=4,
              screen=False, transient=False) as live:
        while True:
            time.sleep(interval)
            live.update(_watch_view(store, run_id, lines, panes))
            info = store.run(run_id)
            if info is None or info["status"] != "running":
                break


def _watch_view(store: Store, run_id: str, lines: int, panes: int) -> Any:
    """One frame of ``watch``: a header, a panel per running trial (its screen's last
    ``lines`` lines, read with the trial's own view command), the newest events."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    info = store.run(run_id) or {}
    evs = store.events(run_id, limit=100000)
    finished = {f"{t['task_id']}/{t['variant']}/{t['attempt']}": t["status"] for t in store.trials(run_id)}
    views = {e["trial"]: e["message"] for e in evs if e["kind"] == "view" and e["trial"]}
    running = [t for t in views if t not in finished][-panes:]
    counts = ", ".join(f"{n} {st}" for st, n in sorted(_count(finished.values()).items())) or "none finished"
    parts: list[Any] = [Text(f"run {run_id}: {info.get('status', '?')} - {counts}; "
                             f"{len(running)} running", style="bold")]
    for trial in running:
        screen = _capture_view(views[trial])
        body = "\n".join(screen.splitlines()[-lines:]) if screen is not None else "(finished or unreachable)"
        parts.append(Panel(Text(body), title=trial, title_align="left"))
    for e in evs[-8:]:
        if e["kind"] in ("attach", "view"):
            continue
        parts.append(Text(f"{time.strftime('%H:%M:%S', time.localtime(e['ts']))} {e['kind']:<11} "
                          f"{e['trial'] or ''} {e['message'][:140]}", style="dim"))
    return Group(*parts)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _capture_view(cmd: str) -> str | None:
    """The pane's screen via its view command, or None when it is gone (trial done)."""
    import subprocess

    try:
        r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=10, check=False,
                           start_new_session=True)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout.rstrip() if r.returncode == 0 else None


@app.command()
def play(trial_dir: Annotated[Path, typer.Argument(help="A trial's artifacts dir, or its session.cast.")],
         speed: Annotated[float, typer.Option(help="Playback speed.")] = 1.0,
         max_wait: Annotated[float, typer.Option(help="Cap pauses at this many seconds.")] = 1.0) -> None:
    """Replay a trial's asciicast in this terminal."""
    cast = trial_dir / "session.cast" if trial_dir.is_dir() else trial_dir
    if not cast.is_file():
        raise ConfigError(f"no asciicast at {cast}")
    lines = cast.read_text(errors="replace").splitlines()
    last = 0.0
    for line in lines[1:]:
        try:
            ts, kind, data = json.loads(line)
        except (ValueError, TypeError):
            continue
        if kind == "o":
            time.sleep(min(max(0.0, (ts - last) / speed), max_wait))
            sys.stdout.write(data)
            sys.stdout.flush()
        last = ts
    sys.stdout.write("\n")
