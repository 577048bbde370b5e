"""Checks on the workspace the agent left behind, run through the trial's sandbox.

Every command goes through ``evidence.exec`` as an argv list. A command that fails (non-zero
exit, file missing, command not found) is a *failed check* with its reason. No sandbox, or a
sandbox whose machinery raises, is *unscorable*: the agent is not to blame for either.
A ``cmd`` given as a string is run by ``sh -c`` on purpose: task authors write shell lines
(``pytest -q && ruff check .``), and the string is theirs, not user input to be quoted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from gate.checks.base import (
    BaseCheck,
    CheckContext,
    Param,
    Verdict,
    clip,
    compile_regex,
    regex_problem,
)
from gate.models import TrialEvidence
from harness.errors import ExecTimeout

CMD_NOT_FOUND = 127


class _NoSandbox(Exception):
    """Internal: the machinery could not run the command; becomes an unscorable verdict."""


def _argv(cmd: str | list[str]) -> list[str]:
    return ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)


def _run(evidence: TrialEvidence, argv: list[str], timeout_sec: float) -> tuple[int, str, str]:
    if evidence.exec is None:
        raise _NoSandbox("no sandbox to run in (the trial's sandbox is gone)")
    try:
        return evidence.exec(argv, timeout_sec)
    except ExecTimeout as exc:  # the command ran too long: the workspace's fault, not ours
        return 124, "", str(exc) or f"timed out after {timeout_sec:g}s"
    except Exception as exc:
        raise _NoSandbox(f"sandbox could not run {argv[0]!r}: {exc}") from exc


def _guard(fn: Any) -> Any:
    """Turn machinery failures inside ``run`` into unscorable verdicts."""

    def run(self: Any, args: Mapping[str, Any], ev: TrialEvidence, ctx: CheckContext) -> Verdict:
        try:
            verdict: Verdict = fn(self, args, ev, ctx)
        except _NoSandbox as exc:
            return Verdict.unscorable(str(exc))
        return verdict

    return run


def _exit_reason(argv: list[str], code: int, stderr: str) -> str:
    if code == CMD_NOT_FOUND:
        return f"command not found: {argv[0] if argv[0] != 'sh' else clip(argv[-1], 60)}"
    tail = f": {clip(stderr.strip(), 120)}" if stderr.strip() else ""
    return f"exit {code}{tail}"


class FileExists(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"path": Param("str")}

    @_guard
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        code, _, _ = _run(evidence, ["test", "-e", args["path"]], 30.0)
        return Verdict.of(code == 0, f"{args['path']} {'exists' if code == 0 else 'missing'}")


class FileContains(BaseCheck):
    """``value`` is a case-sensitive literal (code is case-sensitive); ``pattern`` a regex (m)."""

    params: ClassVar[Mapping[str, Param]] = {
        "path": Param("str"),
        "value": Param("str", required=False, default=None),
        "pattern": Param("str", required=False, default=None),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        has_v, has_p = args.get("value") is not None, args.get("pattern") is not None
        if has_v == has_p:
            return [("value", "give exactly one of value or pattern")]
        problem = regex_problem(args.get("pattern"), "m")
        return [("pattern", problem)] if problem else []

    @_guard
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        argv = ["cat", "--", args["path"]]
        code, out, err = _run(evidence, argv, 30.0)
        if code != 0:
            return Verdict.of(False, f"cannot read {args['path']}: {_exit_reason(argv, code, err)}")
        if args["value"] is not None:
            ok = args["value"] in out
            return Verdict.of(
                ok, f"{args['value']!r} {'found' if ok else 'not found'} in {args['path']}"
            )
        ok = compile_regex(args["pattern"], "m").search(out) is not None
        return Verdict.of(
            ok, f"/{args['pattern']}/ {'matched' if ok else 'no match'} in {args['path']}"
        )


@lru_cache(maxsize=256)
def glob_regex(glob: str) -> re.Pattern[str]:
    """``**`` crosses directories, ``*`` and ``?`` stay inside one path segment."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append(r"(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append(r".*")
            i += 2
        elif glob[i] == "*":
            out.append(r"[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append(r"[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def path_matches(path: str, glob: str) -> bool:
    """A glob ending in ``/`` (or naming a directory) also matches everything under it."""
    p = path.removeprefix("./")
    g = glob.removeprefix("./")
    if g.endswith("/"):
        g += "**"
    return bool(glob_regex(g).match(p) or glob_regex(g + "/**").match(p))


class DiffTouches(BaseCheck):
    """Passes when every glob matches at least one changed path."""

    params: ClassVar[Mapping[str, Param]] = {"paths": Param("str_list")}

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("paths", "must list at least one glob")] if args.get("paths") == [] else []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        changed = evidence.changed_paths
        missed = [g for g in args["paths"] if not any(path_matches(p, g) for p in changed)]
        if missed:
            return Verdict.of(
                False,
                f"diff does not touch {missed}; changed: "
                f"{clip(', '.join(changed) or 'nothing', 120)}",
            )
        return Verdict.of(True, f"diff touches {args['paths']}")


class DiffNotTouches(DiffTouches):
    """Passes when no changed path matches any glob."""

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        hits = [p for p in evidence.changed_paths if any(path_matches(p, g) for g in args["paths"])]
        if hits:
            return Verdict.of(False, f"diff touches forbidden {clip(', '.join(hits), 120)}")
        return Verdict.of(True, f"diff leaves {args['paths']} alone")


class Command(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "cmd": Param("cmd"),
        "expect_exit": Param("int", required=False, default=0),
        "timeout_sec": Param("number", required=False, default=60.0, minimum=0.001),
    }

    @_guard
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        argv = _argv(args["cmd"])
        code, out, err = _run(evidence, argv, float(args["timeout_sec"]))
        if code == args["expect_exit"]:
            return Verdict.of(True, f"exit {code} as expected")
        if code == CMD_NOT_FOUND and args["expect_exit"] != CMD_NOT_FOUND:
            return Verdict.of(False, _exit_reason(argv, code, err))
        return Verdict.of(
            False,
            f"expected exit {args['expect_exit']}, got {_exit_reason(argv, code, err or out)}",
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PYTEST_COUNT = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)"
)
_PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s.*$|^=*\s*no tests ran in [\d.]+s", re.MULTILINE
)


def parse_pytest_summary(output: str) -> dict[str, int] | None:
    """Counts from pytest's last summary line (``3 passed, 1 failed in 0.2s``), or None."""
    lines = list(_PYTEST_SUMMARY.finditer(_ANSI.sub("", output)))
    if not lines:
        return None
    counts: dict[str, int] = {}
    for n, word in _PYTEST_COUNT.findall(lines[-1].group(0)):
        key = {"error": "errors", "warning": "warnings"}.get(word, word)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def parse_junit(xml_text: str) -> dict[str, int]:
    """Totals over every ``testcase``; raises ``ET.ParseError`` on malformed XML."""
    root = ET.fromstring(xml_text)
    counts = {"tests": 0, "failed": 0, "errors": 0, "skipped": 0}
    for case in root.iter("testcase"):
        counts["tests"] += 1
        tags = {child.tag for child in case}
        if "failure" in tags:
            counts["failed"] += 1
        elif "error" in tags:
            counts["errors"] += 1
        elif "skipped" in tags:
            counts["skipped"] += 1
    counts["passed"] = counts["tests"] - counts["failed"] - counts["errors"] - counts["skipped"]
    return counts


class Tests(BaseCheck):
    """Resolved only if every test passes (Terminal-Bench); skips neither help nor hurt."""

    params: ClassVar[Mapping[str, Param]] = {
        "cmd": Param("cmd"),
        "format": Param("str", required=False, default="pytest"),
        "junit_path": Param("str", required=False, default=None),
        "timeout_sec": Param("number", required=False, default=600.0, minimum=0.001),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        fmt = args.get("format", "pytest")
        if fmt not in ("pytest", "junit"):
            return [("format", f"must be 'pytest' or 'junit', got {fmt!r}")]
        if fmt == "junit" and not args.get("junit_path"):
            return [("junit_path", "required when format is 'junit'")]
        return []

    @_guard
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        argv = _argv(args["cmd"])
        code, out, err = _run(evidence, argv, float(args["timeout_sec"]))
        if code == CMD_NOT_FOUND:
            return Verdict.of(False, _exit_reason(argv, code, err))
        if args["format"] == "junit":
            rc, xml_text, rerr = _run(evidence, ["cat", "--", args["junit_path"]], 30.0)
            if rc != 0:
                return Verdict.of(
                    False, f"no JUnit report at {args['junit_path']}: {clip(rerr.strip(), 80)}"
                )
            try:
                counts = parse_junit(xml_text)
            except ET.ParseError as exc:
                return Verdict.of(False, f"malformed JUnit XML: {exc}")
        else:
            parsed = parse_pytest_summary(out + "\n" + err)
            if parsed is None:
                return Verdict.of(False, f"no pytest summary line (exit {code})")
            counts = parsed
        return _tests_verdict(counts, code, args["format"])


def _tests_verdict(counts: dict[str, int], code: int, fmt: str) -> Verdict:
    passed, failed, errors = (
        counts.get("passed", 0),
        counts.get("failed", 0),
        counts.get("errors", 0),
    )
    ran = passed + failed + errors
    summary = f"{passed} passed, {failed} failed, {errors} errors"
    score = passed / ran if ran else 0.0
    if ran == 0:
        return Verdict(False, 0.0, "no tests ran")
    if failed or errors:
        return Verdict(False, score, summary)
    if fmt == "pytest" and code != 0:
        return Verdict(False, score, f"{summary}, but the command exited {code}")
    return Verdict(True, 1.0, summary)
