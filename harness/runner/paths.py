"""One source of truth for where a Run's files go.

::

    <runs root>/                       default ./runs, or --runs-dir / $HARNESS_RUNS_DIR
    ├── harness.db                     SQLite store: runs, trials, checks, events
    └── <run-id>/
        ├── run.json                   the run's config (secrets redacted)
        ├── owner.lock                 flock'ed by the process running it (pid, start, host)
        ├── trials.jsonl               every finished trial's record (rewritten from the store)
        ├── gateway.jsonl              every model exchange (scripted/record/replay)
        ├── variants/<name>/           each variant's files, byte for byte (none: no folder)
        ├── report/                    report.md / report.json / report.html / junit.xml
        ├── stage/                     `harness stage`: the accepted candidate, mapped live
        └── <task-id>/<variant>/<attempt>/
            ├── pane.txt               the final screen with its whole history
            ├── session.cast           asciicast v2 of the pane (`harness play`)
            ├── transcript.jsonl       the CLI's own session file, copied out
            ├── episode.json           the parsed Episode (turns, tools, tokens, answer)
            ├── diff.patch             git diff against the pre-task snapshot
            ├── tools.log              one JSON line per tool-shim call
            └── result.json            the TrialResult, written last (complete marker)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A path component from a task id / variant name (no separators, no dot-dot)."""
    s = _SAFE.sub("_", text).strip("._") or "_"
    return s[:120]


def default_runs_root() -> Path:
    return Path(os.environ.get("HARNESS_RUNS_DIR", "runs")).resolve()


@dataclass(frozen=True)
class TrialPaths:
    dir: Path

    @property
    def pane(self) -> Path:
        return self.dir / "pane.txt"

    @property
    def cast(self) -> Path:
        return self.dir / "session.cast"

    @property
    def transcript(self) -> Path:
        return self.dir / "transcript.jsonl"

    @property
    def episode(self) -> Path:
        return self.dir / "episode.json"

    @property
    def diff(self) -> Path:
        return self.dir / "diff.patch"

    @property
    def tools_log(self) -> Path:
        return self.dir / "tools.log"

    @property
    def result(self) -> Path:
        return self.dir / "result.json"


@dataclass(frozen=True)
class RunPaths:
    root: Path
    run_id: str

    @property
    def db(self) -> Path:
        return self.root / "harness.db"

    @property
    def run_dir(self) -> Path:
        return self.root / safe_name(self.run_id)

    @property
    def config(self) -> Path:
        return self.run_dir / "run.json"

    @property
    def gateway_log(self) -> Path:
        return self.run_dir / "gateway.jsonl"

    @property
    def trials_file(self) -> Path:
        return self.run_dir / "trials.jsonl"

    @property
    def variants_dir(self) -> Path:
        return self.run_dir / "variants"

    def variant_dir(self, name: str) -> Path:
        return self.variants_dir / name

    @property
    def report_dir(self) -> Path:
        return self.run_dir / "report"

    @property
    def stage_dir(self) -> Path:
        return self.run_dir / "stage"

    @classmethod
    def of_dir(cls, run_dir: Path) -> RunPaths:
        """The paths of an existing run folder (its parent is the runs root)."""
        run_dir = run_dir.resolve()
        return cls(run_dir.parent, run_dir.name)

    def trial(self, task_id: str, variant: str, attempt: int) -> TrialPaths:
        return TrialPaths(self.run_dir / safe_name(task_id) / safe_name(variant) / str(attempt))
