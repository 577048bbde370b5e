"""The nightly loop offline, end to end (``bash scripts/nightly-demo.sh``).

1. The real claude and codex CLIs, on the scripted Gateway, write session files in a small
   repo (a bug fixed and tested; later, a question): the fixture generator the harvest tests
   use, so the sessions are the CLIs' real formats.
2. Night 1 harvests the fix sessions, mines a task, the scripted proposer writes a candidate
   the real claude CLI
   replays the live skill against it, the gate accepts, and ``adopt: auto`` adopts it.
3. A worse skill slips past: adopted by hand with ``harness adopt`` (the audit log has it).
4. Night 2 harvests the later sessions, watch replays the adopted skill against the version
   it replaced, and rolls it back.

The last line printed is one JSON object (night1_verdict, night1_adopted,
night2_rolled_back, tasks_mined, trials, wall_s). The scripted model fixes the bug only when
the installed skill is ``calc-fixer``; the gate policy is loosened for one task and one
attempt (70% interval) to keep the demo short.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gate.staging import stage  # noqa: E402
from harness import engine, images  # noqa: E402
from tests.harvest.realcli import generate  # noqa: E402
from tests.nightly.helpers import CALC_POLICY, LOOSE_GATE, SKILL_OLD, write_skill  # noqa: E402

OLD = SKILL_OLD
BAD = OLD.replace("Read calc.py before you answer.", "Answer from memory; do not change code.")
SKILL = ".claude/skills/calc"


def _skill(root: Path, text: str) -> Path:
    return write_skill(root, text, SKILL)


def _candidates(work: Path) -> dict:
    """Night 1's candidate comes from the scripted proposer: its one edit renames the skill
    to the one the scripted model follows to green."""
    from harness.propose.prompt import MARKER

    edits = {"edits": [{
        "file": "SKILL.md", "op": "replace", "section": "front matter",
        "content": "name: calc-fixer\ndescription: Fixes add() in calc.py and runs the tests.",
        "rationale": "The failed trials never fixed add(); the name and description are what "
                     "the agent sees before it opens the skill."}]}
    (work / "proposer.yaml").write_text(yaml.safe_dump({"version": 1, "rules": [{
        "name": "proposer", "match": {"user": "^" + MARKER},
        "reply": {"text": "```json\n" + json.dumps(edits) + "\n```\n"}}]}))
    return {"proposer": {"model": "scripted-proposer", "script": "proposer.yaml"}}


def _night(cfg: Path) -> dict:
    r = subprocess.run([sys.executable, "-m", "harness.cli", "nightly", "--config", str(cfg),
                        "--json"], cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=3600,
                       check=False)
    if r.returncode != 0:
        raise SystemExit(f"nightly-demo: the night failed (exit {r.returncode})")
    return json.loads(r.stdout)


def main(argv: list[str]) -> int:
    """``--workdir DIR`` keeps everything (runs, sessions, the project) there; by default a
    new temp folder, kept so the evidence can be browsed after the demo."""
    t0 = time.monotonic()
    if argv[:1] == ["--workdir"] and len(argv) == 2:
        work = Path(argv[1]).resolve()
        work.mkdir(parents=True, exist_ok=True)
    elif argv:
        raise SystemExit("usage: nightly-demo.sh [--workdir DIR]")
    else:
        work = Path(tempfile.mkdtemp(prefix="nightly-demo-"))
    print(f"nightly-demo: working in {work}", file=sys.stderr)
    client = engine.client(timeout_sec=300)
    imgs = {a: images.ensure_image(client, a, say=lambda _m: None) for a in ("claude", "codex")}
    print("nightly-demo: the real CLIs write the sessions to harvest", file=sys.stderr)
    gen = generate(work / "sessions", client, imgs)
    bad = {k: v for k, v in gen.statuses.items() if not v.startswith("passed")}
    if bad:
        raise SystemExit(f"nightly-demo: the CLIs did not finish their sessions: {bad}")
    lay = gen.install(work / "home", sessions={"claude": ["fix"], "codex": ["fix"]})
    proj = lay.repo
    _skill(proj, OLD)
    (work / "policy.yaml").write_text(yaml.safe_dump(CALC_POLICY, sort_keys=False))
    cfg = {"project": str(proj), "targets": [SKILL],
           "sources": {"claude_home": str(lay.claude_home), "codex_home": str(lay.codex_home)},
           "agents": ["claude"], "trials": 1, "concurrency": 2,
           "model": {"mode": "scripted", "script": "policy.yaml"},
           "budgets": {"tokens": 5_000_000, "wall_minutes": 60},
           "gate_policy": LOOSE_GATE,
           "mine": {"holdout_fraction": 1.0}, "adopt": "auto", "runs_dir": "runs"}
    n1_cfg = work / "night1.yaml"
    n1_cfg.write_text(yaml.safe_dump(cfg | {"candidates": _candidates(work)}))
    print("nightly-demo: night 1", file=sys.stderr)
    n1 = _night(n1_cfg)

    print("nightly-demo: a worse skill slips past (adopted by hand)", file=sys.stderr)
    runs = work / "runs"
    _skill(work / "worse", BAD)
    sd = runs / "nightly" / "by-hand" / "stage"
    stage(run_id="by-hand", candidate="worse", candidate_dir=work / "worse" / SKILL,
          live_root=proj / SKILL, stage_dir=sd / "00-calc")
    # adopted by hand, as a user would: `harness adopt` logs it in the audit log, which is
    # where night 2's watch finds an adoption no night made
    r = subprocess.run([sys.executable, "-m", "harness.cli", "adopt", str(sd / "00-calc"),
                        "--runs-dir", str(runs), "--reason", "adopted by hand (the demo's slip)"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if r.returncode != 0:
        raise SystemExit(f"nightly-demo: adopting by hand failed: {r.stderr.strip()}")

    gen.add(lay, {"claude": ["later"], "codex": ["later"]})  # the next day's sessions
    n2_cfg = work / "night2.yaml"
    n2_cfg.write_text(yaml.safe_dump(cfg))
    print("nightly-demo: night 2", file=sys.stderr)
    n2 = _night(n2_cfg)
    live_now = (proj / SKILL / "SKILL.md").read_text()
    n1_live = n1["candidates"][0]["path"] if n1["candidates"] else None
    print(f"nightly-demo: night 1 {n1['verdict']} ({n1['decision']}); night 2 {n2['verdict']} "
          f"({n2['decision']}); live skill: {live_now.splitlines()[1]}",
          file=sys.stderr)
    print(json.dumps({
        "night1_verdict": n1["verdict"],
        "night1_adopted": bool(n1["adopted"]),
        "night2_rolled_back": bool(n2["rolled_back"]) and n1_live is not None
        and live_now == (Path(n1_live) / SKILL / "SKILL.md").read_text(),
        "tasks_mined": n1["mined"],
        "trials": n1["replayed"] + n2["replayed"],
        "wall_s": round(time.monotonic() - t0, 1),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
