"""Sandbox benchmark: container lifecycle, and git snapshot / restore on a 20,000-file repo.

Prints a table, then (last line) one JSON object:
{"lifecycle_p50_s", "lifecycle_p95_s", "snapshot_s", "restore_s", "copy_tree_s"}. Never asserts.
Goals (issue 2): lifecycle p50 <= 1.5 s; snapshot + restore <= 0.5 s.

``copy_tree_s`` is what ``cp -a`` of the same 20,000 files (the work tree, not .git) costs
in the same container, timed the same way (one exec each): the snapshot and restore figures over it are
ratios that hold on any machine, where the seconds depend on the disk and the load.

    .venv/bin/python bench/sandbox.py [--runs 20] [--files 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from controllers.sandbox import DockerSandbox, DockerSandboxConfig
from controllers.snapshot import GitSnapshotter
from harness import engine, images


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--changed", type=int, default=10)
    args = ap.parse_args()
    client = engine.client()
    tag = images.ensure_image(client, "base")

    lifecycle = []
    for i in range(args.runs):
        t0 = time.monotonic()
        with DockerSandbox(DockerSandboxConfig(image=tag, run_id="bench"), client=client) as box:
            box.exec(["true"])
        lifecycle.append(time.monotonic() - t0)

    with DockerSandbox(DockerSandboxConfig(image=tag, run_id="bench"), client=client) as box:
        gen = (
            f"mkdir -p repo && cd repo && git init -q . && for d in $(seq 0 99); do mkdir -p d$d; done && "
            f"seq 0 {args.files - 1} | awk '{{print \"d\" ($1 % 100) \"/f\" $1 \".txt\"}}' | "
            "while read -r f; do echo \"content of $f\" > \"$f\"; done && git add -A && git commit -qm base"
        )
        r = box.exec(["bash", "-c", gen], timeout_sec=600)
        assert r.ok, r.describe()
        snapper = GitSnapshotter(box, f"{box.workdir}/repo")
        snaps, restores = [], []
        for i in range(5):
            touch = " ".join(f"d{j}/f{j}.txt" for j in range(args.changed))
            box.exec(["bash", "-c", f"cd repo && for f in {touch}; do echo edit{i} >> $f; done"])
            t0 = time.monotonic()
            snap = snapper.snapshot(f"b{i}")
            snaps.append(time.monotonic() - t0)
            box.exec(["bash", "-c", f"cd repo && for f in {touch}; do echo agent >> $f; done; echo n > new{i}"])
            t0 = time.monotonic()
            snapper.restore(snap)
            restores.append(time.monotonic() - t0)
        copies = []
        for i in range(3):
            t0 = time.monotonic()
            r = box.exec(["bash", "-c", f"mkdir copy{i} && cp -a repo/d* copy{i}/"], timeout_sec=600)
            copies.append(time.monotonic() - t0)
            if not r.ok:
                raise SystemExit(f"cp -a of the files failed: {r.describe()}")
            box.exec(["rm", "-rf", f"copy{i}"], timeout_sec=600)
    client.close()

    out = {
        "lifecycle_p50_s": round(statistics.median(lifecycle), 3),
        "lifecycle_p95_s": round(pct(lifecycle, 95), 3),
        "snapshot_s": round(statistics.median(snaps), 3),
        "restore_s": round(statistics.median(restores), 3),
        "copy_tree_s": round(statistics.median(copies), 3),
    }
    print(f"{'measure':<34}{'value':>10}   goal")
    print(f"{'container create->ready->removed p50':<34}{out['lifecycle_p50_s']:>9.3f}s   <= 1.5 s")
    print(f"{'container create->ready->removed p95':<34}{out['lifecycle_p95_s']:>9.3f}s")
    print(f"{f'snapshot ({args.files} files, {args.changed} changed)':<34}{out['snapshot_s']:>9.3f}s")
    print(f"{'restore (same)':<34}{out['restore_s']:>9.3f}s   snapshot+restore <= 0.5 s")
    print(f"{'cp -a of the same files':<34}{out['copy_tree_s']:>9.3f}s   snapshot "
          f"{out['snapshot_s'] / out['copy_tree_s']:.2f}x, restore {out['restore_s'] / out['copy_tree_s']:.2f}x of it")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
