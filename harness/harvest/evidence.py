"""What both readers share: reading JSONL with located problems, and turning tool calls into
evidence (test runs and how they ended, files touched, normalised error signatures).

Why heuristics live here and not in each reader: a shell command is a shell command whether
claude's ``Bash`` or codex's ``exec_command`` ran it, and mining compares digests of both
CLIs, so both must classify the same command the same way.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness.harvest.digest import ErrorSignature, Problem, TestRun

MAX_LINE_PROBLEMS = 20  # per file: a broken file is reported, not listed line by line


def read_jsonl(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each whole JSON object line; every other line is a
    located problem (not JSON, truncated, not an object) and is skipped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(file=str(path), what=f"unreadable: {exc.strerror or exc}"))
        return
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    truncated_tail = not text.endswith("\n")
    bad = 0
    for no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad += 1
            last = no == len(lines) and truncated_tail
            what = (
                "truncated line (the CLI was cut off mid-write)"
                if last
                else f"not JSON ({exc.msg})"
            )
            if bad <= MAX_LINE_PROBLEMS:
                problems.append(Problem(file=str(path), line=no, what=f"{what}; skipped"))
            continue
        if not isinstance(obj, dict):
            bad += 1
            if bad <= MAX_LINE_PROBLEMS:
                problems.append(
                    Problem(
                        file=str(path),
                        line=no,
                        what=f"a JSON {type(obj).__name__}, not an object; skipped",
                    )
                )
            continue
        yield no, obj
    if bad > MAX_LINE_PROBLEMS:
        problems.append(
            Problem(file=str(path), what=f"{bad - MAX_LINE_PROBLEMS} more bad lines skipped")
        )


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (fields of unknown shape)."""
    return value if isinstance(value, dict) else {}


def parse_time(value: Any) -> datetime | None:
    """A UTC-aware time from an ISO string or epoch seconds/milliseconds; None when neither."""
    if isinstance(value, (int, float)) and value > 0:
        secs = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(secs, UTC)
    if isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)  # naive means UTC here
    return None


# ------------------------------------------------------------------ test commands

_TEST_CMD = re.compile(
    r"(?:^|[\s;&|(/])(?:"
    r"py\.?test|python\d?(?:\.\d+)?\s+-m\s+(?:pytest|unittest|nose2?)|tox|nox|"
    r"(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?test|npx\s+(?:jest|vitest|mocha)|jest|vitest|mocha|"
    r"go\s+test|cargo\s+(?:test|nextest)|make\s+(?:test|check)\w*|ctest|"
    r"mvn\s+(?:\S+\s+)*test|gradlew?\s+(?:\S+\s+)*test|dotnet\s+test|rspec|bundle\s+exec\s+rspec|"
    r"phpunit|deno\s+test|mix\s+test|swift\s+test|bats"
    r")(?=$|[\s;&|)])"
)
_SUMMARY = re.compile(
    r"^(?:=+ )?(?:.*\b\d+ (?:passed|failed|errors?)\b.*|Ran \d+ tests? in .*|"
    r"OK(?: \(.*\))?|FAILED \(.*\)|"
    r"(?:ok|FAIL|PASS)\s+\S+.*|test result: .*|Tests?:\s+.*)$"
)


def is_test_command(cmd: str) -> bool:
    return bool(_TEST_CMD.search(cmd))


def test_run(turn: int, cmd: str, output: str, exit_code: int | None, is_error: bool) -> TestRun:
    """How a test command ended: its exit code when known, else its output's verdict."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    summary = next((ln for ln in reversed(lines) if _SUMMARY.match(ln)), "")
    outcome: Literal["passed", "failed", "unknown"]
    if exit_code is not None:
        outcome = "passed" if exit_code == 0 else "failed"
    elif is_error or re.search(r"\b(\d+ failed|FAILED|FAIL\b|errors? occurred)", output):
        outcome = "failed"
    elif re.search(r"(\b\d+ passed\b|^OK\b|test result: ok)", output, re.MULTILINE):
        outcome = "passed"
    else:
        outcome = "unknown"
    return TestRun(
        turn=turn, cmd=cmd[:500], outcome=outcome, exit_code=exit_code, summary=summary[:200]
    )


# ------------------------------------------------------------------ errors

_ERROR_LINE = re.compile(
    r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception|Failure|Interrupt)\b.*|^\s*(?:error|fatal|panic)(?:\[\w+\])?:.*",
    re.IGNORECASE,
)


def normalise(line: str) -> str:
    """An error line with the parts that vary between runs (paths, numbers, quoted values,
    addresses, ids) replaced, so one failure gets one signature."""
    s = line.strip()
    s = re.sub(r"0x[0-9a-fA-F]+", "<hex>", s)
    s = re.sub(r"\b[0-9a-f]{7,40}\b", "<id>", s)
    s = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "<str>", s)
    s = re.sub(r"(?:[A-Za-z]:)?(?:[\w.~-]*/)+[\w.-]+", "<path>", s)
    s = re.sub(r"\d+(?:\.\d+)?", "<n>", s)
    return re.sub(r"\s+", " ", s)[:160]


def error_line(output: str) -> str | None:
    """The line of a failed command's output that says what went wrong (the last one)."""
    found = [ln for ln in output.splitlines() if _ERROR_LINE.match(ln)]
    return found[-1].strip() if found else None


def add_error(errors: dict[str, ErrorSignature], line: str, source: str) -> None:
    sig = normalise(line)
    if not sig:
        return
    if sig in errors:
        errors[sig].count += 1
    else:
        errors[sig] = ErrorSignature(signature=sig, source=source, example=line.strip()[:300])  # type: ignore[arg-type]


# ------------------------------------------------------------------ files touched

_SPLIT = re.compile(r"&&|\|\||;|\||\n")
_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", re.MULTILINE)
_MOVE_TO = re.compile(r"^\*\*\* Move to: (.+)$", re.MULTILINE)


def patch_files(patch: str) -> list[str]:
    """Paths named by an ``apply_patch`` envelope (codex's edit format)."""
    return [p.strip() for p in _PATCH_FILE.findall(patch) + _MOVE_TO.findall(patch)]


def shell_files(cmd: str) -> list[str]:
    """Files a shell command writes, by its shape: redirections, ``sed -i``, ``tee``,
    ``touch``, ``rm``, ``mv``/``cp`` targets, ``git mv/rm``, an inline ``apply_patch``.
    A guess, never authoritative (mining checks the diff itself)."""
    found = patch_files(cmd)
    body = cmd.split("<<", 1)[0] if "apply_patch" in cmd else cmd
    for part in _SPLIT.split(body):
        try:
            toks = shlex.split(part, posix=True)
        except ValueError:
            toks = part.split()
        found += _files_of(toks)
    out: list[str] = []
    for f in found:
        if f and f not in out and not f.startswith(("/dev/", "&")) and f != "-":
            out.append(f)
    return out


def _files_of(toks: list[str]) -> list[str]:
    out: list[str] = []
    for i, t in enumerate(toks):
        if t in (">", ">>", "1>", "2>", "&>") and i + 1 < len(toks):
            out.append(toks[i + 1])
        elif re.match(r"^\d?>>?[^>&]", t):
            out.append(re.sub(r"^\d?>>?", "", t))
    args, skip = [], False
    for t in toks:  # drop redirections and their targets
        if skip or re.match(r"^\d?>>?|^<", t):
            skip = t in (">", ">>", "1>", "2>", "&>", "<", "<<<")
            continue
        args.append(t)
    if not args:
        return out
    prog, rest = Path(args[0]).name, args[1:]
    plain = [a for a in rest if not a.startswith("-")]
    if prog == "sed" and any(a.startswith("-i") or a == "--in-place" for a in rest):
        scripts = 1 if not any(a in ("-e", "-f") for a in rest) else 0
        out += plain[scripts:]
    elif prog == "tee" or prog in ("touch", "rm", "truncate"):
        out += plain
    elif prog in ("mv", "cp", "install") and len(plain) >= 2:
        out += plain[-1:] if prog != "mv" else plain
    elif prog == "git" and rest[:1] in (["mv"], ["rm"]):
        out += [a for a in rest[1:] if not a.startswith("-")]
    return out


def relative(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd`` when it lies inside it (how the digest names files)."""
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1 :]
    return path.removeprefix("./")


def skill_from_path(text: str) -> str | None:
    """The skill a command or path reads: ``.../skills/<name>/SKILL.md``."""
    m = re.search(r"skills/([\w.-]+)/SKILL\.md", text)
    return m.group(1) if m else None


def block_text(content: Any, kinds: tuple[str, ...] = ("text",)) -> str:
    """The text of a message's content: a plain string, or the ``text`` of its blocks whose
    ``type`` is one of ``kinds`` (claude writes ``text``; codex ``input_text`` / ``output_text``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") in kinds and b.get("text")
        )
    return ""
