"""Load and validate a Suite, reporting every problem at once with file and line.

Why collect instead of raising on the first error: fixing a suite one error per run is
slow and a CI log should show the whole list. Everything that can be known before a
container starts is checked here: YAML syntax, the schema, duplicate ids, check specs,
and that every referenced local path exists.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import ConfigError, LocatedError, ValidationFailed
from harness.tasks import yamlpos
from harness.tasks.checkspecs import validate_check_list
from harness.tasks.schema import SuiteConfig, Task, script_key
from harness.tasks.suite import Suite

SUITE_FILES = ("suite.yaml", "suite.yml")
_TASK_FIELDS = sorted(f.alias or n for n, f in Task.model_fields.items())


@dataclass
class _Raw:
    """One task's raw mapping with where it was written."""

    file: Path
    shown: str
    data: Any
    node: yaml.Node | None

    def where(self, path: tuple[Any, ...] = ()) -> str:
        line = yamlpos.line_of(self.node, path)
        return f"{self.shown}:{line}" if line else self.shown


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Load a suite folder (recursive) or one task file; raise ValidationFailed on errors."""
    suite, errors = check_suite(path)
    if errors:
        raise ValidationFailed(f"suite {path}", errors)
    assert suite is not None
    return suite


def check_suite(path: str | os.PathLike[str]) -> tuple[Suite | None, list[LocatedError]]:
    """Like :func:`load_suite` but returns (suite or None, every error) without raising."""
    given = Path(path)
    if not given.exists():
        raise ConfigError(f"suite path {given} does not exist")
    errors: list[LocatedError] = []
    if given.is_file() and given.name in SUITE_FILES:
        given = given.parent
    root = given.resolve()
    config = SuiteConfig.model_validate({})
    if root.is_dir():
        cfg_file = next((root / n for n in SUITE_FILES if (root / n).is_file()), None)
        if cfg_file is not None:
            config = _load_config(cfg_file, given / cfg_file.name, errors) or config
        files = _discover(root, config)
    else:
        files = [root]
    raws: list[_Raw] = []
    file_errors: dict[Path, list[LocatedError]] = {}
    for f in files:
        shown = str(given / f.relative_to(root)) if root.is_dir() else str(given)
        raws.extend(_read_file(f, shown, file_errors.setdefault(f, [])))
    refs = [p for r in raws for p in _referenced_dirs(r)]
    raws = [r for r in raws if not _under(r.file, refs)]
    errors += [e for f, errs in file_errors.items() if not _under(f, refs) for e in errs]
    tasks = _validate(raws, config, root if root.is_dir() else root.parent, errors)
    if root.is_dir() and not raws and not errors:
        errors.append(LocatedError(str(given), "no task files found"))
    if errors:
        unique = {str(e): e for e in errors}  # a policy file shared by suite and task: once
        return None, sorted(unique.values(), key=_order)
    return Suite(root=root, tasks=tuple(tasks), config=config), []


def _order(e: LocatedError) -> tuple[str, int]:
    """Errors sorted by file, then line (so a person can walk a file top to bottom)."""
    file, _, rest = e.where.partition(":")
    line = rest.split(":", 1)[0]
    return (file, int(line) if line.isdigit() else 0)


def _load_config(file: Path, shown: Path, errors: list[LocatedError]) -> SuiteConfig | None:
    try:
        parsed = yamlpos.parse(file.read_text(encoding="utf-8"))
    except yamlpos.ParseError as exc:
        errors.append(LocatedError(f"{shown}:{exc.line}", str(exc)))
        return None
    raw = _Raw(file, str(shown), parsed.data or {}, parsed.node)
    try:
        cfg = SuiteConfig.model_validate(raw.data)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, raw, "suite"))
        return None
    for name, rel in cfg.variants.items():
        if not (file.parent / rel).exists():
            errors.append(LocatedError(raw.where(("variants", name)),
                                       f"variant {name!r}: {rel} does not exist"))
    key = script_key(raw.data)
    if isinstance(cfg.script, str) and not (file.parent / cfg.script).exists():
        errors.append(LocatedError(raw.where((key,)), f"{key} file {cfg.script} "
                                                        "does not exist"))
    elif cfg.script is not None:
        errors.extend(_policy_errors(cfg.script, file.parent, raw, "suite", set()))
    return cfg


_PRUNE = {"node_modules", "__pycache__", "venv"}


def _discover(root: Path, config: SuiteConfig) -> list[Path]:
    """Task files under root: included globs, minus excludes, hidden paths, suite.yaml.

    Hidden folders, ``node_modules``, ``__pycache__`` and ``venv`` are never walked (a
    workspace can hold thousands of YAML files that are not tasks), nor the variant
    folders and the suite's script file (the scripted model's rules).
    """
    out: list[Path] = []
    variant_dirs = {(root / v).resolve() for v in config.variants.values()}
    policy = (root / config.script).resolve() if isinstance(config.script, str) else None
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _PRUNE
                             and (here / d).resolve() not in variant_dirs)
        for name in sorted(filenames):
            f = here / name
            posix = f.relative_to(root).as_posix()
            if name.startswith(".") or posix in SUITE_FILES or f.resolve() == policy:
                continue
            if any(_glob(posix, g) for g in config.include) and not any(
                    _glob(posix, g) for g in config.exclude):
                out.append(f)
    return sorted(out)


def _glob(posix: str, pattern: str) -> bool:
    """fnmatch where a leading ``**/`` also matches files at the top level."""
    return fnmatch.fnmatch(posix, pattern) or (
        pattern.startswith("**/") and fnmatch.fnmatch(posix, pattern[3:]))


def _read_file(file: Path, shown: str, errors: list[LocatedError]) -> list[_Raw]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(LocatedError(shown, f"cannot read: {exc}"))
        return []
    try:
        parsed = yamlpos.parse(text, is_json=file.suffix == ".json")
    except yamlpos.ParseError as exc:
        errors.append(LocatedError(f"{shown}:{exc.line}" if exc.line else shown, str(exc)))
        return []
    if parsed.data is None:
        errors.append(LocatedError(shown, "empty file (expected a task or a list of tasks)"))
        return []
    if isinstance(parsed.data, list):
        return [_Raw(file, shown, item, yamlpos.child(parsed.node, i))
                for i, item in enumerate(parsed.data)]
    return [_Raw(file, shown, parsed.data, parsed.node)]


def _referenced_dirs(raw: _Raw) -> list[Path]:
    """Folders a task points at (workspace, pages, tests, build context) and its script file.

    Files inside them are data, not task files, even when they end in .yaml.
    """
    d = raw.data if isinstance(raw.data, dict) else {}
    rels: list[Any] = []
    ws = d.get("workspace")
    rels.append(ws.get("path") if isinstance(ws, dict) else ws)
    for tool in d.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("search"), dict):
            rels.append(tool["search"].get("pages"))
    if isinstance(d.get("tests"), dict):
        rels.append(d["tests"].get("dir"))
    rels += [d.get("build_context"), d.get(script_key(d))]
    base = raw.file.parent
    return [(base / r).resolve() for r in rels if isinstance(r, str) and "://" not in r]


def _under(file: Path, refs: list[Path]) -> bool:
    """True when a file is, or lies inside, something a task references (so it is data)."""
    f = file.resolve()
    return any(f == p or p in f.parents for p in refs)


def _apply_defaults(data: dict[str, Any], config: SuiteConfig) -> dict[str, Any]:
    """Suite-level defaults fill in what a task leaves unset (a task's value wins)."""
    out = dict(data)
    if config.timeout_sec is not None:
        out.setdefault("timeout_sec", config.timeout_sec)
    if config.split is not None:
        out.setdefault("split", config.split)
    if config.script is not None and "policy" not in out and "script" not in out:
        out["script"] = config.script
        out["_policy_from_suite"] = True
    if config.tags:
        out["tags"] = [*config.tags, *[t for t in out.get("tags") or [] if t not in
                                       config.tags]]
    return out


def _validate(
    raws: list[_Raw], config: SuiteConfig, suite_dir: Path, errors: list[LocatedError]
) -> list[Task]:
    """Validate every raw task; check specs and ids are checked even when the schema fails,
    so one run shows all the problems of a file."""
    tasks: list[Task] = []
    seen: dict[str, str] = {}
    policies: set[Path] = set()
    for raw in raws:
        if not isinstance(raw.data, dict):
            errors.append(LocatedError(raw.where(), f"a task must be a mapping, got "
                                                    f"{type(raw.data).__name__}"))
            continue
        data = _apply_defaults(raw.data, config)
        from_suite = bool(data.pop("_policy_from_suite", False))
        raw_id = data.get("id")
        label = raw_id if isinstance(raw_id, str) else "task"
        if isinstance(raw_id, str):
            if raw_id in seen:
                errors.append(LocatedError(raw.where(("id",)), f"duplicate task id {raw_id!r} "
                                                               f"(first at {seen[raw_id]})"))
            else:
                seen[raw_id] = raw.where(("id",))
        errors.extend(_raw_checks(data, raw, label))
        try:
            task = Task.model_validate(data)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, raw, label))
            continue
        if from_suite and isinstance(task.script, str):
            # a suite-level script path is relative to suite.yaml (and checked there)
            task.script = str(suite_dir / task.script)
        task.bind(raw.file.parent, raw.where())
        errors.extend(_check_paths(task, raw, skip_policy=from_suite))
        if not from_suite and task.script is not None:  # a suite's script is checked once
            errors.extend(_policy_errors(task.script, task.base_dir, raw, label, policies))
        tasks.append(task)
    return tasks


def _policy_errors(policy: str | dict[str, Any], base: Path, raw: _Raw, label: str,
                   seen: set[Path]) -> list[LocatedError]:
    """The scripted model's rules, validated by the Gateway that owns their format: a file
    once however many tasks share it (its errors at its own lines), an inline mapping at
    the lines of the file it is written in. A missing file is reported by _check_paths."""
    from harness.gateway.policy import check_policy  # the Gateway package is heavy to import

    if isinstance(policy, dict):
        key = script_key(raw.data)  # the word the file uses: script, or its old name policy
        node = yamlpos.value_node(raw.node, (key,))
        return [LocatedError(e.where, f"{label}.{key}.{e.message}")
                for e in check_policy(policy, where=raw.shown, node=node)]
    path = (base / policy).resolve()
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    return check_policy(path, where=os.path.normpath(Path(raw.shown).parent / policy))


def _raw_checks(data: dict[str, Any], raw: _Raw, label: str) -> list[LocatedError]:
    """Check specs of the task and of each agent override, each at its own line."""
    errs: list[LocatedError] = []
    def task_check(i: int) -> str:
        return raw.where(("checks", i) if i >= 0 else ("checks",))

    if isinstance(data.get("checks"), list):
        errs += validate_check_list(data["checks"], label, task_check)
    agents = data.get("agents")
    for agent, ov in (agents.items() if isinstance(agents, dict) else []):
        if isinstance(ov, dict) and isinstance(ov.get("checks"), list):
            errs += validate_check_list(ov["checks"], f"{label}.agents.{agent}",
                                        partial(_agent_check_where, raw, agent))
    return errs


def _agent_check_where(raw: _Raw, agent: str, i: int) -> str:
    return raw.where(("agents", agent, "checks", i))


def _check_paths(task: Task, raw: _Raw, *, skip_policy: bool) -> list[LocatedError]:
    """Local paths the task names must exist before anything runs."""
    errs: list[LocatedError] = []
    policy = task.script if isinstance(task.script, str) and not skip_policy else None
    paths: list[tuple[tuple[Any, ...], str | None, str]] = [
        (("dockerfile",), task.dockerfile, "file"),
        (("build_context",), task.build_context, "dir"),
        (("oracle",), task.oracle, "file"),
        (("tests", "dir"), task.tests.dir if task.tests else None, "dir"),
        ((script_key(raw.data),), policy, "file"),
    ]
    ws = task.workspace
    if ws is not None and ws.path is not None:
        paths.append((("workspace",), ws.path, "dir"))
    elif ws is not None and ws.git is not None and task.workspace_source().url == str(
            task.resolve(ws.git)):
        paths.append((("workspace",), ws.git, "dir"))  # a local repo must exist
    for i, tool in enumerate(task.tools):
        if tool.search is not None:
            paths.append((("tools", i, "search", "pages"), tool.search.pages, "dir"))
    for loc, rel, kind in paths:
        if rel is None:
            continue
        p = task.resolve(rel)
        ok = p.is_dir() if kind == "dir" else p.is_file()
        if not ok:
            errs.append(LocatedError(raw.where(loc), f"{task.id}.{_dotted(loc)}: {kind} "
                                                     f"{rel} not found (looked in {p})"))
    return errs


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _real_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union/validator tags from a loc, keeping keys present in the data."""
    out: list[Any] = []
    cur = data
    for part in loc:
        present = (isinstance(cur, dict) and part in cur) or (
            isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur))
        if present:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and not part.startswith(
                ("function-", "tagged-union", "list[", "dict[")) and part not in (
                "str", "int", "float", "bool", "none"):
            out.append(part)  # a missing or extra key: still worth naming
            cur = None
    return tuple(out)


def _pydantic_errors(exc: ValidationError, raw: _Raw, label: str) -> list[LocatedError]:
    out: list[LocatedError] = []
    seen: set[tuple[str, str]] = set()
    for e in exc.errors():
        path = _real_path(raw.data, tuple(e["loc"]))
        msg = str(e["msg"]).removeprefix("Value error, ")
        last = path[-1] if path else ""
        if e["type"] == "missing":
            msg = f"missing required field {last!r}"
        elif e["type"] == "extra_forbidden":
            msg = f"unknown field {last!r}"
            if len(path) == 1 and label != "suite":
                near = difflib.get_close_matches(str(last), _TASK_FIELDS, n=1)
                msg += f" (did you mean {near[0]!r}?)" if near else ""
        elif e["type"] == "literal_error" and last in ("schema", "split"):
            msg = f"{msg}, got {e.get('input')!r}"
        field = _dotted(path)
        key = (raw.where(path), f"{field}{msg}")
        if key in seen:
            continue
        seen.add(key)
        out.append(LocatedError(raw.where(path), f"{label}{'.' + field if field else ''}: "
                                                 f"{msg}"))
    return out
