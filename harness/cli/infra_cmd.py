"""Top-level infrastructure commands: ``doctor``, ``gc``, ``smoke``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness import engine, images, providers
from harness.errors import EngineError, HarnessError

app = typer.Typer()
console = Console(highlight=False)


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Install / start what is missing (Docker engine via apt as root, base images).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the engine, images and tools the harness needs; with --fix, set them up."""
    rows: list[tuple[str, bool, str]] = []
    say = (lambda _m: None) if as_json else console.print
    try:
        info = engine.ensure_engine(install=fix, say=say)
        rows.append(("docker engine", True, f"{info.server_version} at {info.endpoint} ({info.storage_driver}, cgroup v{info.cgroup_version})"))
    except EngineError as exc:
        rows.append(("docker engine", False, exc.one_line()))
        info = None
    tmux = shutil.which("tmux")
    ver = subprocess.run(["tmux", "-V"], capture_output=True, text=True, timeout=5).stdout.strip() if tmux else ""
    rows.append(("tmux (host, for local sessions)", bool(tmux), ver or "not installed: apt-get install tmux"))
    if info is not None:
        c = engine.client()
        try:
            if fix and not images.image_exists(c, images.DEBIAN_TAG):
                images.bootstrap_debian(say=say)
            has_debian = images.image_exists(c, images.DEBIAN_TAG)
            rows.append((images.DEBIAN_TAG, has_debian, "present" if has_debian else "missing: run `harness images bootstrap`"))
            ca = images.resolve_ca_bundle()
            rows.append(("extra CA bundle", True, str(ca) if ca else "none"))
            for name in ("base", *images.agent_images()):
                if fix and has_debian:
                    images.build(c, name, ca_bundle=ca, say=say)
                tag = images.plan(name, ca_bundle=ca).hash_tag
                ok = images.image_exists(c, tag)
                rows.append((f"image {name}", ok, tag if ok else f"{tag} missing: run `harness images build {name}`"))
        finally:
            c.close()
    if as_json:
        print(json.dumps([{"check": n, "ok": ok, "detail": d} for n, ok, d in rows]))
    else:
        t = Table("check", "ok", "detail")
        for n, ok, d in rows:
            t.add_row(n, "[green]yes[/green]" if ok else "[red]no[/red]", d)
        console.print(t)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(1)


@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed, remove nothing.")] = False,
    max_age_hours: Annotated[float, typer.Option(help="Remove harness containers older than this, whoever owns them.")] = 24.0,
    provider: Annotated[str | None, typer.Option(
        "--provider", help=f"Sweep only this sandbox provider ({', '.join(providers.names())}, or "
                           "module:Class); default: every registered one.")] = None,
) -> None:
    """Remove what killed runs left (containers, networks, volumes, temp dirs, tmux servers:
    owner gone, or older than --max-age-hours), through each sandbox provider's sweep.
    Containers whose owner runs on another host are kept (their process cannot be checked
    from here) and counted, with where to sweep them."""
    verb = "would remove" if dry_run else "removed"
    failed = []
    for name in [provider] if provider else providers.names():
        prov = providers.get_provider(name)
        try:
            lines = prov.sweep(dry_run=dry_run, max_age_sec=max_age_hours * 3600)
        except HarnessError as exc:
            console.print(f"{name}: cannot sweep: {exc.one_line()}")
            failed.append(name)
            continue
        finally:
            prov.close()
        for line in lines:  # whole lines: a path or id cut at the terminal's width is no use
            console.print(f"{name}: {verb} {line}", soft_wrap=True, markup=False)
        console.print(f"{name}: {verb} {len(lines)} leftover(s)")
        for note in prov.sweep_notes():
            console.print(f"{name}: {note}", soft_wrap=True, markup=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def smoke(
    image: Annotated[str, typer.Option(help="Image to start.")] = "base",
) -> None:
    """Start a sandbox, run a command, snapshot and restore a workspace, tear down; print timings."""
    from controllers.sandbox import DockerSandbox, DockerSandboxConfig
    from controllers.sandbox.gc import sweep
    from controllers.snapshot import GitSnapshotter

    c = engine.client()
    try:
        sweep(c)
        tag = images.ensure_image(c, image, say=console.print)
        t0 = time.monotonic()
        with DockerSandbox(DockerSandboxConfig(image=tag, run_id="smoke"), client=c) as box:
            t_ready = time.monotonic() - t0
            box.write_file("hello.txt", "hello\n")
            snapper = GitSnapshotter(box)
            snap = snapper.snapshot()
            box.exec(["sh", "-c", "echo changed > hello.txt; echo new > new.txt"])
            changed = [f"{ch.status} {ch.path}" for ch in snapper.changed(snap)]
            snapper.restore(snap)
            restored = box.read_file("hello.txt").decode().strip()
            uname = box.exec(["uname", "-sr"]).stdout.strip()
        t_total = time.monotonic() - t0
    finally:
        c.close()
    t = Table("step", "result")
    t.add_row("image", tag)
    t.add_row("container ready", f"{t_ready:.2f}s ({uname})")
    t.add_row("changes seen after edit", ", ".join(changed))
    t.add_row("after restore hello.txt", restored)
    t.add_row("total incl. teardown", f"{t_total:.2f}s")
    console.print(t)
    if restored != "hello" or len(changed) != 2:
        raise EngineError("sandbox smoke run failed: snapshot/restore did not round-trip")
