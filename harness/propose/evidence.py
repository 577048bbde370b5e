"""The evidence pack: what the proposer reads of the replayed trials, bounded in bytes.

Why bounded and ordered: a model's context is finite and a night may replay hundreds of
trials. Failures say most about what the skill misses, so failed trials come first (the
baseline's before the candidates'), then passed ones (what must keep working); each trial's
texts are cut to a fixed share, and the pack stops whole trials short of the budget, saying
how many it left out.

What is read: the run's ``trials.jsonl`` (else each ``result.json``), and per trial its
``episode.json`` (the prompt, the final answer) and ``diff.patch``; when an episode holds no
prompt (the agent never got to a turn), the task's prompt from the suite ``run.json`` names.
Nothing else of ``run.json`` (the agent's settings, not its behaviour), never the environment.
Artifacts are redacted when written; the pack is passed through the same redaction again
before it leaves, in case a diff or answer carried a secret the writer could not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.harvest.redact import redact_text
from harness.runner.paths import RunPaths

DEFAULT_BYTES = 24_000
PROMPT_CHARS, ANSWER_CHARS, DIFF_CHARS, CHECK_CHARS = 800, 800, 1500, 300
FAILED = ("failed", "timeout", "agent_error")
_TAIL_RESERVE = 100  # room for the "left out" line, so the pack stays within its budget


@dataclass(frozen=True)
class TrialEvidence:
    """One trial, as the pack shows it."""

    run: str
    task: str
    variant: str
    attempt: int
    status: str
    prompt: str
    answer: str
    failed_checks: tuple[str, ...]
    errors: tuple[str, ...]
    diff: str
    diff_bytes: int = 0  # the whole diff.patch (only its head is read)

    def render(self) -> str:
        head = f"### {self.task} · {self.variant} · attempt {self.attempt}: {self.status}"
        parts = [head, f"run: {self.run}"]
        if self.prompt:
            parts.append("prompt:\n" + _quote(_cut(self.prompt, PROMPT_CHARS)))
        parts.append("final answer:\n" + _quote(_cut(self.answer, ANSWER_CHARS) or "(none)"))
        if self.failed_checks:
            parts.append("failed checks:\n" + "\n".join(
                f"- {_cut(c, CHECK_CHARS)}" for c in self.failed_checks))
        if self.errors:
            parts.append("error signatures:\n" + "\n".join(f"- {_cut(e, CHECK_CHARS)}"
                                                          for e in self.errors))
        diff = self.diff.strip()
        if len(diff) > DIFF_CHARS or self.diff_bytes > len(self.diff.encode()):
            diff = (diff[:DIFF_CHARS] + f"\n[... diff cut: {DIFF_CHARS:,} of "
                    f"{max(self.diff_bytes, len(self.diff.encode())):,} bytes shown]")
        parts.append("diff:\n" + ("```diff\n" + diff + "\n```" if diff else "(no change)"))
        return "\n".join(parts) + "\n"


def _cut(text: str, n: int) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + f"\n[... {len(text) - n} more characters cut]"


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines()) if text else ""


def _records(run_dir: Path) -> list[dict[str, Any]]:
    """The finished trials of one run: ``trials.jsonl``, else every ``result.json``."""
    listed = run_dir / "trials.jsonl"
    out: list[dict[str, Any]] = []
    if listed.is_file():
        for line in listed.read_text(errors="replace").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and "task_id" in d:
                out.append(d)
        return out
    for f in sorted(run_dir.glob("*/*/*/result.json")):
        try:
            d = json.loads(f.read_text(errors="replace"))
        except ValueError:
            continue
        rec = d.get("record", d) if isinstance(d, dict) else None
        if isinstance(rec, dict) and "task_id" in rec:
            out.append(rec)
    return out


def _read(path: Path, limit: int) -> tuple[str, int]:
    """The head of a file (at most ``limit`` bytes) and the file's whole size."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit).decode("utf-8", errors="replace"), path.stat().st_size
    except OSError:
        return "", 0


def _episode(path: Path) -> tuple[str, str]:
    """(first prompt, final answer) of an ``episode.json``; empty when it is missing."""
    try:
        ep = json.loads(path.read_text(errors="replace"))
    except (OSError, ValueError):
        return "", ""
    turns = ep.get("turns") if isinstance(ep, dict) else None
    if not isinstance(turns, list) or not turns:
        return "", ""
    first, last = turns[0], turns[-1]
    prompt = first.get("user_text", "") if isinstance(first, dict) else ""
    answer = ""
    if isinstance(last, dict):
        answer = last.get("final_text") or "\n".join(last.get("texts") or [])
    return str(prompt), str(answer)


def suite_prompts(run_dir: Path) -> dict[str, str]:
    """Task id → its (first) prompt, from the suite the run's ``run.json`` names; empty when
    that suite is gone or no longer loads (the pack then shows the episodes' prompts only)."""
    from harness.tasks.loader import load_suite

    try:
        suite = json.loads((run_dir / "run.json").read_text()).get("suite")
        tasks = load_suite(suite).tasks if isinstance(suite, str) and suite else []
    except (OSError, ValueError, HarnessError):
        return {}
    out: dict[str, str] = {}
    for t in tasks:
        turns = t.prompt_turns()
        if turns:
            out[t.id] = turns[0]
    return out


def trial_evidence(run_dir: Path, rec: dict[str, Any],
                   prompts: dict[Path, dict[str, str]] | None = None) -> TrialEvidence:
    """One trial's evidence from its record and its artifacts (``prompts``: a cache of each
    run's suite prompts, read only for a trial whose episode has none)."""
    paths = RunPaths.of_dir(run_dir).trial(str(rec["task_id"]), str(rec.get("variant", "")),
                                           int(rec.get("attempt", 0)))
    prompt, answer = _episode(paths.episode)
    if not prompt:
        cache = {} if prompts is None else prompts
        if run_dir not in cache:
            cache[run_dir] = suite_prompts(run_dir)
        prompt = cache[run_dir].get(str(rec["task_id"]), "")
    failed = tuple(f"{c.get('name') or c.get('op')}: {c.get('reason', '')}"
                   for c in rec.get("check_results") or []
                   if isinstance(c, dict) and c.get("passed") is False)
    if not failed and rec.get("status") in FAILED and rec.get("reason"):
        failed = (str(rec["reason"]),)
    diff, diff_bytes = _read(paths.diff, DIFF_CHARS * 2)
    return TrialEvidence(
        run=run_dir.name, task=str(rec["task_id"]), variant=str(rec.get("variant", "")),
        attempt=int(rec.get("attempt", 0)), status=str(rec.get("status", "")),
        prompt=prompt, answer=answer, failed_checks=failed,
        errors=tuple(str(e) for e in rec.get("error_signatures") or []),
        diff=diff, diff_bytes=diff_bytes)


def _summary(run_dir: Path, recs: list[dict[str, Any]]) -> str:
    by: dict[str, list[str]] = {}
    for r in recs:
        by.setdefault(str(r.get("variant", "")), []).append(str(r.get("status", "")))
    parts = [f"{v}: {s.count('passed')}/{len(s)} passed"
             + (f" ({s.count('infra_error')} infra errors, not shown)" if "infra_error" in s else "")
             for v, s in sorted(by.items())]
    return f"- run {run_dir.name}: " + ("; ".join(parts) or "no finished trials")


def _order(item: tuple[Path, dict[str, Any]]) -> tuple[int, int, str, str, int]:
    _, r = item
    status = r.get("status")
    return (0 if status in FAILED else 1, 0 if r.get("variant") == "baseline" else 1,
            str(r.get("task_id")), str(r.get("variant")), int(r.get("attempt", 0)))


def build_evidence(run_dirs: list[Path], *, max_bytes: int = DEFAULT_BYTES) -> str:
    """The pack for ``run_dirs``: a summary line per run, then whole trials, failed first,
    until ``max_bytes`` (UTF-8) would be passed."""
    items: list[tuple[Path, dict[str, Any]]] = []
    lines = ["## Runs"]
    for d in run_dirs:
        recs = _records(d)
        lines.append(_summary(d, recs))
        items.extend((d, r) for r in recs if r.get("status") in (*FAILED, "passed"))
    head = redact_text("\n".join(lines)) + "\n\n## Trials (failed first, then passed)\n"
    out = [head]
    prompts: dict[Path, dict[str, str]] = {}
    used = len(head.encode())
    left = 0
    for n, (d, rec) in enumerate(sorted(items, key=_order)):
        block = redact_text(trial_evidence(d, rec, prompts).render()) + "\n"
        size = len(block.encode())
        if used + size > max_bytes - _TAIL_RESERVE:
            left = len(items) - n
            break
        out.append(block)
        used += size
    if not items:
        out.append("(no scored trials)\n")
    if left:
        out.append(f"[... {left} more trial(s) left out to stay within {max_bytes:,} bytes]\n")
    return "".join(out)
