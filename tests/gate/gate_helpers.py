"""Builders for constructed trial sets, shared by the gate tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from gate.models import Artifacts, CheckResult, Tokens, TrialRecord


def check(passed: bool | None, name: str = "c", score: float | None = None) -> CheckResult:
    s = score if score is not None else (1.0 if passed else 0.0)
    return CheckResult(name=name, op="contains", passed=passed, score=s, reason="constructed")


def trial(
    task: str,
    variant: str,
    *,
    attempt: int = 0,
    split: Any = "heldout",
    passes: int = 1,
    fails: int = 0,
    status: Any = None,
    tokens: int = 100,
    duration: float = 10.0,
    run_id: str = "run-1",
    **extra: Any,
) -> TrialRecord:
    """A trial whose checks pass ``passes`` times and fail ``fails`` times."""
    checks = [check(True, f"p{i}") for i in range(passes)] + [
        check(False, f"f{i}") for i in range(fails)
    ]
    st: Any = status or ("passed" if fails == 0 else "failed")
    return TrialRecord(
        run_id=run_id,
        task_id=task,
        variant=variant,
        attempt=attempt,
        split=split,
        status=st,
        check_results=checks,
        tokens=Tokens(input=tokens // 2, output=tokens - tokens // 2),
        duration_sec=duration,
        artifacts=Artifacts(dir=f"trials/{task}/{variant}/{attempt}"),
        **extra,
    )


def trial_set(
    n_tasks: int,
    *,
    base_fails: int = 1,
    cand_fails: int = 0,
    attempts: int = 1,
    split: Any = "heldout",
    prefix: str = "t",
    **kw: Any,
) -> list[TrialRecord]:
    """Baseline and candidate over ``n_tasks`` tasks, each with 2 checks."""
    out = []
    for i in range(n_tasks):
        for a in range(attempts):
            out.append(
                trial(
                    f"{prefix}{i:02d}",
                    "baseline",
                    attempt=a,
                    split=split,
                    passes=2 - base_fails,
                    fails=base_fails,
                    **kw,
                )
            )
            out.append(
                trial(
                    f"{prefix}{i:02d}",
                    "cand",
                    attempt=a,
                    split=split,
                    passes=2 - cand_fails,
                    fails=cand_fails,
                    **kw,
                )
            )
    return out


class LocalExec:
    """A real ``exec`` for workspace checks: runs argv in a directory, ``timeout`` -> 124."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[list[str]] = []

    def __call__(self, cmd: list[str], timeout_sec: float) -> tuple[int, str, str]:
        self.calls.append(cmd)
        try:
            p = subprocess.run(
                cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout_sec, check=False
            )
        except FileNotFoundError as exc:
            return 127, "", str(exc)
        except subprocess.TimeoutExpired:
            return 124, "", f"timed out after {timeout_sec}s"
        return p.returncode, p.stdout, p.stderr


def sample_trials() -> list[TrialRecord]:
    """A small, fixed run: 6 heldout tasks improved, a frozen task held, a train task, one
    infra error and one timeout; enough to exercise every report section."""
    out: list[TrialRecord] = []
    for i in range(6):
        for a in range(2):
            out.append(
                trial(
                    f"hd-{i + 1:03d}",
                    "baseline",
                    attempt=a,
                    passes=1,
                    fails=1,
                    tokens=1000 + 10 * i,
                    duration=30.0 + i,
                    run_id="run-2026-11-22",
                )
            )
            out.append(
                trial(
                    f"hd-{i + 1:03d}",
                    "candidate",
                    attempt=a,
                    passes=2,
                    tokens=1100 + 10 * i,
                    duration=31.0 + i,
                    run_id="run-2026-11-22",
                    steps_to_green=4 + a,
                )
            )
    for v in ("baseline", "candidate"):
        out.append(trial("fz-001", v, split="frozen", passes=2, run_id="run-2026-11-22"))
        out.append(
            trial(
                "bm-001",
                v,
                split="train",
                passes=1,
                fails=1,
                run_id="run-2026-11-22",
                error_signatures=["E: foo at /a/1", "E: foo at /b/2"],
            )
        )
    out.append(
        trial(
            "hd-001",
            "candidate",
            attempt=2,
            status="infra_error",
            passes=0,
            run_id="run-2026-11-22",
            reason="docker engine went away",
        )
    )
    out.append(
        trial(
            "hd-002",
            "baseline",
            attempt=2,
            status="timeout",
            passes=1,
            fails=0,
            run_id="run-2026-11-22",
            reason="no prompt after 600s",
        )
    )
    return out
