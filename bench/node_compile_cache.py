"""What Node's compile cache saves on a CLI start, inside an agent image: prints a table, then
one JSON line. Never asserts.

    python bench/node_compile_cache.py [--image gemini] [--runs 10] [-- gemini --version]

The agent base sets ``NODE_COMPILE_CACHE`` to a directory that the agent image's build warms
by running its CLI once. This runs the CLI ``--runs`` times with the cache and as often with
``NODE_DISABLE_COMPILE_CACHE=1``, alternating, in one container (as the agent user, as a trial
would), and reports the CPU seconds (user + system, from ``getrusage`` of the children) and
the wall time of each start: p50 and mean for both, and the saving.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import engine, images

PROBE = r"""
import json, os, resource, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
out = {"cache": {"cpu": [], "wall": []}, "no_cache": {"cpu": [], "wall": []}}
for i in range(2 * runs):
    mode = "cache" if i % 2 == 0 else "no_cache"
    env = dict(os.environ)
    if mode == "no_cache":
        env["NODE_DISABLE_COMPILE_CACHE"] = "1"
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=120)
    r1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    out[mode]["cpu"].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    out[mode]["wall"].append(t1 - t0)
files = sum(len(f) for _, _, f in os.walk(os.environ.get("NODE_COMPILE_CACHE", "/nonexistent")))
out["cache_files"] = files
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="gemini", help="harness image name (built if missing)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("argv", nargs="*", default=["gemini", "--version"])
    a = ap.parse_args()
    c = engine.client()
    try:
        tag = images.ensure_image(c, a.image, say=lambda m: print(m, file=sys.stderr))
        raw = c.containers.run(tag, ["python3", "-c", PROBE, str(a.runs), *a.argv],
                               remove=True, network_mode="none", user="agent")
    finally:
        c.close()
    data = json.loads(raw.decode().strip().splitlines()[-1])
    summary: dict[str, object] = {"image": tag, "argv": a.argv, "runs": a.runs,
                                  "cache_files": data["cache_files"]}
    print(f"{'mode':<10} {'cpu p50 s':>10} {'cpu mean s':>11} {'wall p50 s':>11}")
    for mode in ("cache", "no_cache"):
        cpu, wall = data[mode]["cpu"], data[mode]["wall"]
        summary[mode] = {"cpu_p50": round(statistics.median(cpu), 3),
                         "cpu_mean": round(statistics.mean(cpu), 3),
                         "wall_p50": round(statistics.median(wall), 3)}
        print(f"{mode:<10} {statistics.median(cpu):>10.3f} {statistics.mean(cpu):>11.3f} "
              f"{statistics.median(wall):>11.3f}")
    with_c, without = summary["cache"], summary["no_cache"]
    assert isinstance(with_c, dict) and isinstance(without, dict)
    saved = without["cpu_p50"] - with_c["cpu_p50"]
    summary["cpu_saved_p50_s"] = round(saved, 3)
    summary["cpu_saved_pct"] = round(100 * saved / without["cpu_p50"], 1) if without["cpu_p50"] else 0.0
    print(f"saved per start: {saved:.3f} s CPU (p50), {summary['cpu_saved_pct']}%")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
