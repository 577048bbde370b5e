"""Import gbrain-evals ``skillopt-v1`` seeds (SKILL.md + benchmark/held-out JSONL).

Mapping, and why:

* ``SKILL.md`` becomes the ``baseline`` variant (``variants/baseline/SKILL.md``): the seed
  skill is deliberately deficient, so it is exactly the live skill a candidate must beat.
* ``benchmark.jsonl`` -> ``train`` tasks, ``held-out.jsonl`` -> ``heldout`` tasks. Another
  held-out file (the older rule-judged one, or the patelnav fork's stricter judges) can be
  given with ``held_out=``; it replaces the seed's own.
* judges: ``rule`` checks map op by op (``arg`` -> ``value``/``pattern``/``heading``/
  ``tool``), ``llm`` -> ``rubric``, ``qrels`` -> ``qrels``. gbrain scores a task as the
  fraction of its checks that pass; the checks keep equal (default) weights for that.
* ``brain/`` pages (``brain/topics/*.md``) are copied to ``data/brain`` and every task gets
  a ``search`` tool over them, so ``tool_called search`` and qrels slugs
  (``topics/<page>``) refer to something real. A tool named by ``tool_called`` without
  pages gets a canned shim, so the check stays satisfiable.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, LocatedError, ValidationFailed
from harness.tasks.importers.common import ImportResult, map_judge, prepare_dest, write_suite
from harness.tasks.suite import Suite

TRAIN_FILE = "benchmark.jsonl"
HELDOUT_FILE = "held-out.jsonl"


def is_seed(path: Path) -> bool:
    return path.is_dir() and (path / TRAIN_FILE).is_file()


def read_jsonl(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[LocatedError]]:
    """(line number, record) pairs and an error for every bad line."""
    out: list[tuple[int, dict[str, Any]]] = []
    errors: list[LocatedError] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(LocatedError(f"{path}:{n}", f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(rec, dict) or not rec.get("task_id") or not rec.get("task"):
            errors.append(LocatedError(f"{path}:{n}", "a task line needs task_id and task"))
            continue
        out.append((n, rec))
    return out, errors


def skill_name(skill_md: Path) -> str | None:
    """The ``name:`` of a SKILL.md's front matter (where the runner installs it)."""
    m = re.match(r"---\n(.*?)\n---", skill_md.read_text(encoding="utf-8"), re.DOTALL)
    if m:
        for line in m.group(1).splitlines():
            if line.startswith("name:"):
                return line.split(":", 1)[1].strip().strip("'\"") or None
    return None


def _tasks(path: Path, split: str, seed: str, tools: list[dict[str, Any]],
           citation_pattern: str | None) -> tuple[list[dict[str, Any]], list[LocatedError]]:
    tasks: list[dict[str, Any]] = []
    records, errors = read_jsonl(path)
    for n, rec in records:
        where = f"{path}:{n}"
        try:
            checks = map_judge(rec.get("judge"), where, citation_pattern)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            continue
        tasks.append({
            "id": str(rec["task_id"]),
            "split": split,
            "tags": [f"seed:{seed}", f"judge:{(rec.get('judge') or {}).get('kind', 'rule')}"],
            "prompt": str(rec["task"]),
            "tools": tools,
            "checks": checks,
            "meta": {"source": "gbrain-evals/skillopt-v1", "seed": seed,
                     "source_file": path.name, "source_line": n},
        })
    return tasks, errors


def import_seed(src: Path, dest: Path, *, held_out: Path | None = None,
                force: bool = False) -> Suite:
    """Import one seed folder into a suite at ``dest``."""
    if not is_seed(src):
        raise ConfigError(f"{src} is not a skillopt-v1 seed (no {TRAIN_FILE})")
    held = held_out or src / HELDOUT_FILE
    if held_out is not None and not held_out.is_file():
        raise ConfigError(f"held-out file {held_out} does not exist")
    seed = src.name.removeprefix("seed-")
    brain = src / "brain"
    pages = brain.is_dir() and any(brain.rglob("*.md"))
    tools: list[dict[str, Any]] = []
    if pages:
        tools.append({"name": "search", "description": "Search the brain: ranked pages "
                      "for a query, one [slug] title per hit.",
                      "search": {"pages": "../data/brain", "k": 5}})
    # a citation names a page slug, as the search tool prints it
    citation = r"\btopics/[a-z0-9][a-z0-9-]*" if pages else None
    tasks, errors = _tasks(src / TRAIN_FILE, "train", seed, tools, citation)
    if held.is_file():
        more, errs = _tasks(held, "heldout", seed, tools, citation)
        tasks += more
        errors += errs
    if errors:
        raise ValidationFailed(f"import {src}", errors)
    for t in tasks:
        named = {c["tool"] for c in t["checks"] if c["op"] in ("tool_called", "tool_not_called")}
        for name in sorted(named - {x["name"] for x in t["tools"]}):
            t["tools"] = [*t["tools"], {"name": name, "description": "canned (no data in seed)",
                                        "output": "No results.\n"}]
    prepare_dest(dest, force=force)
    config: dict[str, Any] = {"name": f"gbrain-skillopt-v1-{seed}",
                              "description": f"Imported from gbrain-evals skillopt-v1 {src.name}"}
    if (src / "SKILL.md").is_file():
        vdir = dest / "variants" / "baseline"
        vdir.mkdir(parents=True)
        shutil.copy2(src / "SKILL.md", vdir / "SKILL.md")
        config["variants"] = {"baseline": "variants/baseline"}
    if pages:
        shutil.copytree(brain, dest / "data" / "brain",
                        ignore=lambda _d, names: [n for n in names if n.startswith(".")])
    return write_suite(dest, tasks, config)


def import_gbrain(src: Path, dest: Path, *, held_out: Path | None = None,
                  force: bool = False) -> ImportResult:
    """Import a seed folder, or a folder of seeds (each into ``dest/<seed>``)."""
    notes: list[str] = []
    if is_seed(src):
        suite = import_seed(src, dest, held_out=held_out, force=force)
        name = skill_name(src / "SKILL.md") if (src / "SKILL.md").is_file() else None
        if name:
            notes.append(f"baseline skill {name!r} in {dest / 'variants/baseline'}")
        if not (src / "SKILL.md").is_file():
            notes.append("no SKILL.md: give the baseline variant with --variant")
        return ImportResult(dest=dest, suites=[suite], notes=notes)
    seeds = sorted(p for p in src.iterdir() if is_seed(p)) if src.is_dir() else []
    if not seeds:
        raise ConfigError(f"{src}: neither a seed folder nor a folder of seeds "
                          f"(looked for {TRAIN_FILE})")
    if held_out is not None:
        raise ConfigError("--held-out applies to one seed, not a folder of seeds")
    prepare_dest(dest, force=force)
    suites = [import_seed(s, dest / s.name, force=force) for s in seeds]
    notes.append(f"{len(suites)} seeds, one suite each under {dest}")
    return ImportResult(dest=dest, suites=suites, notes=notes)
