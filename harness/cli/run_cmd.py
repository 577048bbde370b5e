"""``harness run`` and the commands that look at runs: runs, show, attach, watch, play.

``run`` is thin: it turns flags into a :class:`RunConfig` and hands it to
:func:`harness.runner.launch.launch`, which rejects bad input before any container starts,
one line each: a suite with errors (every error with its place), a missing variant path, an
unknown agent, a model mode without what it needs (no key for record/live, no cassette for
replay, no script for a scripted run). Every command that takes a run accepts its id or its
folder. Renamed flags keep their old spelling as a hidden alias (``--model`` for
``--model-mode``, ``--policy`` for ``--gate-policy``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Self

import typer
from rich.console import Console
from rich.table import Table

from controllers.profiles import names as agent_names
from harness.cli.common import RUN_HELP, RunsDir, one_of, open_store, resolve_run
from harness.errors import ConfigError
from harness.runner import launch as launch_mod
from harness.runner.config import RunConfig, parse_mode, parse_variant_flags
from harness.runner.paths import default_runs_root
from harness.runner.store import Store

app = typer.Typer()
console = Console(highlight=False)

DEFAULT_MODEL = launch_mod.DEFAULT_MODEL

ModeOpt = Annotated[str | None, typer.Option("--model-mode", help="Where model replies come from: scripted | record | replay | live (default: scripted).")]
ModeAlias = Annotated[str | None, typer.Option("--model", hidden=True, help="Old name of --model-mode.")]
GatePolicyOpt = Annotated[Path | None, typer.Option("--gate-policy", help="Gate thresholds (YAML/JSON), e.g. max_token_ratio, min_heldout_tasks.")]
GatePolicyAlias = Annotated[Path | None, typer.Option("--policy", hidden=True, help="Old name of --gate-policy.")]


@app.command()
def run(
    suite: Annotated[Path | None, typer.Argument(help="Suite folder or file (not needed with --resume).")] = None,
    agent: Annotated[str | None, typer.Option(help=f"{', '.join(agent_names())} or module:Class (default: suite.yaml's, else claude).")] = None,
    variant: Annotated[list[str] | None, typer.Option("--variant", "-v", help="NAME=PATH; the first (or one named 'baseline') is the baseline. Default: suite.yaml's variants, else 'bare' (the agent with no skill files).")] = None,
    trials: Annotated[int | None, typer.Option("--trials", "-k", min=1, help="Attempts per task and variant (default: suite.yaml's, else 1); 2+ shows pass@k.")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-j", min=1, help="Trials at once (default: 4 per core, fewer when free memory holds fewer at 512 MiB each). Their CLIs start at most one per core at a time ($HARNESS_START_SLOTS sets it, 0 = no limit).")] = None,
    model_mode: ModeOpt = None,
    model_alias: ModeAlias = None,
    model_name: Annotated[str | None, typer.Option(help="Model name the CLI asks for (default: the agent's).")] = None,
    cassette: Annotated[Path | None, typer.Option(help="Cassette for record (written) / replay (read).")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="The scripted model's rules (YAML) for every task, instead of the tasks' own `script:`.")] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="Stop new model work past this many tokens.")] = None,
    split: Annotated[str | None, typer.Option(help="Only tasks of this split (train, heldout, frozen).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these task ids.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per-trial timeout in seconds (overrides tasks).")] = None,
    keep: Annotated[bool, typer.Option(help="Keep containers after the run (to attach / inspect).")] = False,
    fresh_sandbox: Annotated[bool, typer.Option("--fresh-sandbox", help="A new container for every trial (no warm reuse of a task's container; slower).")] = False,
    provider: Annotated[str, typer.Option(help="Where trials run: docker, local (a directory, no isolation), or module:Class.")] = "docker",
    executor: Annotated[str, typer.Option(help="How trials are scheduled: local (this machine) or ray (the Docker hosts of a Ray cluster; --concurrency is then per node).")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="The Ray cluster's head, HOST:PORT (default: a new one-node cluster on this machine). Needs --executor ray.")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Decide and exit 0 accept, 1 reject, 2 inconclusive.")] = False,
    gate_policy: GatePolicyOpt = None,
    policy_alias: GatePolicyAlias = None,
    resume: Annotated[str | None, typer.Option(help="Finish run RUN, an id or a run folder (re-runs only incomplete trials).")] = None,
    runs_dir: RunsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of tables.")] = False,
) -> None:
    """Replay a suite with each variant, score every trial, and (with 2+ variants) gate.

    With no variant (here or in suite.yaml) it runs the bare agent: a benchmark run."""
    mode = one_of(model_mode, "--model-mode", model_alias, "--model")
    thresholds = one_of(gate_policy, "--gate-policy", policy_alias, "--policy")
    if resume:
        paths, store = resolve_run(resume, runs_dir)
        root, resume = paths.root, paths.run_id
        cfg = launch_mod.stored_config(store, root, resume)
        store.close()
        given = {"concurrency": concurrency, "budget_tokens": budget_tokens, "gate_policy": thresholds,
                 "keep": keep or None, "fresh_sandbox": fresh_sandbox or None,
                 "provider": None if provider == "docker" else provider,
                 "executor": None if executor == "local" else executor, "ray_address": ray_address}
        cfg = cfg.model_copy(update={k: v for k, v in given.items() if v is not None})
    else:
        if suite is None:
            raise ConfigError("no suite given", hint="harness run SUITE_PATH ...")
        root = (runs_dir or default_runs_root()).resolve()
        cfg = RunConfig.build(suite=suite, agent=agent, variants=parse_variant_flags(variant), trials=trials,
                              concurrency=concurrency, model_mode=parse_mode(mode or "scripted"),
                              model_name=model_name, cassette=cassette, script=script,
                              budget_tokens=budget_tokens, split=split, tasks=task, timeout=timeout,
                              keep=keep, fresh_sandbox=fresh_sandbox, provider=provider, gate_policy=thresholds,
                              executor=executor, ray_address=ray_address)
    live = _Live(as_json)

    def watch(runner: Any) -> _Live:
        live.runner = runner
        return live

    try:
        out = launch_mod.launch(cfg, root, resume=resume, on_event=live.event, watch=watch)
    except launch_mod.RunInterrupted as exc:
        console.print(f"[yellow]interrupted[/yellow]: resume with `harness run --resume {exc.run_id}`")
        raise typer.Exit(130) from None
    _summary(out, as_json)
    if gate:
        raise typer.Exit(out.decision.exit_code if out.decision is not None else 2)


def pass_at_k(records: list[Any]) -> dict[str, dict[str, float]]:
    """variant -> {k: pass@k} over the run's scorable attempts (k = 1 .. attempts)."""
    from gate.metrics import variant_metrics

    return {v: variant_metrics(v, records).pass_at_k for v in dict.fromkeys(r.variant for r in records)}


def _summary(out: launch_mod.RunOutcome, as_json: bool) -> None:
    records, decision, paths = out.records, out.decision, out.paths
    k = out.config.trials or 1
    pak = pass_at_k(records) if k > 1 else None
    if as_json:
        print(json.dumps({
            "run_id": out.run_id, "run_dir": str(paths.run_dir),
            "trials": [{"task": r.task_id, "variant": r.variant, "attempt": r.attempt, "status": r.status,
                        "reason": r.reason} for r in records],
            **({"pass_at_k": pak} if pak is not None else {}),
            "decision": decision.decision if decision else None,
            "reasons": decision.reasons if decision else [],
        }))
        return
    t = Table("task", "variant", "try", "status", "reason", title=f"run {out.run_id}")
    for r in records:
        color = {"passed": "green", "failed": "red", "timeout": "yellow"}.get(r.status, "magenta")
        t.add_row(r.task_id, r.variant, str(r.attempt), f"[{color}]{r.status}[/{color}]", r.reason[:90])
    console.print(t)
    if pak:
        ks = sorted({kk for v in pak.values() for kk in v}, key=int)
        pt = Table("variant", *[f"pass@{kk}" for kk in ks], title=f"pass@k over {k} attempts per task")
        for v, vals in pak.items():
            pt.add_row(v, *[f"{vals[kk]:.2f}" if kk in vals else "-" for kk in ks])
        console.print(pt)
    if decision is not None:
        console.print(f"gate: [bold]{decision.decision}[/bold]" + (f" ({decision.chosen})" if decision.chosen else ""))
        for reason in decision.reasons[:8]:
            console.print(f"  - {reason}")
        console.print(f"report: {paths.report_dir / 'report.md'}")
    console.print(f"artifacts: {paths.run_dir}")


class _Live:
    """Live progress on a terminal (done, running, failed, ETA); plain lines otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.runner: Any = None
        self.tty = sys.stderr.isatty()
        self._live: Any = None
        self.err = Console(stderr=True, highlight=False)

    def __enter__(self) -> Self:
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
    _, store = open_store(runs_dir)
    rows = store.runs()
    if as_json:
        print(json.dumps(rows, default=str))
        return
    t = Table("run", "status", "agent", "model", "trials", "passed", "suite")
    for r in rows:
        t.add_row(r["id"], r["status"], r["agent"], r["model_mode"], str(r["trials"]), str(r["passed"] or 0), r["suite"])
    console.print(t)


@app.command()
def show(run: Annotated[str | None, typer.Argument(help=RUN_HELP)] = None, runs_dir: RunsDir = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run: its trials with status, reason and artifacts."""
    paths, store = resolve_run(run, runs_dir)
    run_id = paths.run_id
    info = store.run(run_id) or {}
    trials = store.trials(run_id)
    if as_json:
        print(json.dumps({"run": info, "trials": trials}, default=str))
        return
    console.print(f"run {run_id}: {info['status']} · agent {info['agent']} · model {info['model_mode']} · {info['suite']}")
    nodes = any(r.get("node") for r in trials)  # run on a cluster (--executor ray): which node
    t = Table("task", "variant", "try", "status", "reason", *(["node"] if nodes else []), "artifacts")
    for r in trials:
        t.add_row(r["task_id"], r["variant"], str(r["attempt"]), r["status"], str(r.get("reason", ""))[:70],
                  *([str(r.get("node") or "")] if nodes else []), str(paths.run_dir / str(r.get("artifacts") or "")))
    console.print(t)


@app.command()
def attach(run: Annotated[str | None, typer.Argument(help=RUN_HELP)] = None,
           trial: Annotated[str | None, typer.Argument(help="TASK/VARIANT/ATTEMPT (default: the newest running).")] = None,
           runs_dir: RunsDir = None,
           print_only: Annotated[bool, typer.Option("--print", help="Print the command instead of running it.")] = False,
           read_only: Annotated[bool, typer.Option("--read-only", "-r", help="Watch without typing into it.")] = False) -> None:
    """Drop into a running trial's tmux pane (detach with C-b d). Works at any concurrency."""
    paths, store = resolve_run(run, runs_dir)
    run_id = paths.run_id
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
def watch(run: Annotated[str | None, typer.Argument(help=RUN_HELP)] = None, runs_dir: RunsDir = None,
          interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
          lines: Annotated[int, typer.Option(help="Screen lines shown per running trial.")] = 12,
          panes: Annotated[int, typer.Option(help="Running trials shown at once (the newest).")] = 4,
          once: Annotated[bool, typer.Option(help="Show once and exit.")] = False) -> None:
    """Follow a run read-only: the live screens of its running trials, its progress and
    events (Ctrl-C stops watching, never the run). To type into a pane: `harness attach`."""
    paths, store = resolve_run(run, runs_dir)
    run_id = paths.run_id
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
