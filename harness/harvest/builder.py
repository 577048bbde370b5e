"""``SessionBuilder``: what a reader fills in while it walks one session file, and how that
becomes a :class:`Digest` (turns, tool calls, tests, files, errors, tokens).

Why one builder for both CLIs: the readers only know their format; what counts as a test
run, a touched file or an error is decided once, here and in :mod:`evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.harvest import evidence as ev
from harness.harvest.digest import (
    DIGEST_SCHEMA,
    Digest,
    ErrorSignature,
    FileEdit,
    StartState,
    TestRun,
    Tokens,
    ToolCall,
    Turn,
)

SHELL_TOOLS = {"Bash", "exec_command", "shell", "local_shell", "container.exec", "shell_command"}
MAX_CALLS = 500
MAX_EDITS = 500
MAX_EDIT_CHARS = 64_000


@dataclass
class Call:
    id: str
    name: str
    turn: int
    input: dict[str, Any]
    cmd: str = ""
    output: str = ""
    is_error: bool = False
    exit_code: int | None = None


def failed_call(c: Call) -> bool:
    return c.is_error or c.exit_code not in (None, 0)


@dataclass
class SessionBuilder:
    agent: str
    source_file: str
    session_id: str = ""
    cli_version: str = ""
    model: str = ""
    cwd: str = ""
    branch: str | None = None
    git: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    times: list[datetime] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    by_id: dict[str, Call] = field(default_factory=dict)
    skills: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    api_errors: list[str] = field(default_factory=list)
    tokens: Tokens = field(default_factory=Tokens)

    # ------------------------------------------------------------ filled by readers

    def seen(self, at: Any) -> datetime | None:
        t = ev.parse_time(at)
        if t is not None:
            self.times.append(t)
        return t

    def prompt(self, text: str, at: datetime | None = None) -> None:
        self.turns.append(Turn(index=len(self.turns), prompt=text.strip(), at=at))

    def _turn(self) -> Turn:
        if not self.turns:  # the agent spoke before any prompt (a resumed or odd file)
            self.turns.append(Turn(index=0, prompt=""))
        return self.turns[-1]

    def answer(self, text: str, *, replace: bool = True) -> None:
        """The current turn's final answer so far (the last text wins)."""
        t = self._turn()
        if text.strip():
            t.final_answer = text.strip() if replace or not t.final_answer else t.final_answer

    def call(self, call_id: str, name: str, inp: dict[str, Any], cmd: str = "") -> Call:
        t = self._turn()
        t.tool_calls += 1
        t.final_answer = ""  # an answer before a tool call was not the final one
        c = Call(call_id, name, t.index, inp, cmd)
        self.calls.append(c)
        if call_id:
            self.by_id[call_id] = c
        return c

    def result(
        self, call_id: str, output: str, *, is_error: bool = False, exit_code: int | None = None
    ) -> None:
        c = self.by_id.get(call_id)
        if c is None:
            return
        c.output, c.is_error = output, is_error or c.is_error
        if exit_code is not None:
            c.exit_code = exit_code

    def skill(self, name: str | None) -> None:
        if name and name not in self.skills:
            self.skills.append(name)

    def touched(self, path: str | None) -> None:
        if path:
            rel = ev.relative(path, self.cwd)
            if rel not in self.files:
                self.files.append(rel)

    # ------------------------------------------------------------ the digest

    def has_prompt(self) -> bool:
        return any(t.prompt for t in self.turns)

    def build(self, start: StartState, project: str) -> Digest:
        """The digest (not yet redacted: the caller redacts the whole report at once)."""
        tools: dict[str, int] = {}
        calls: list[ToolCall] = []
        tests: list[TestRun] = []
        errors: dict[str, ErrorSignature] = {}
        for c in self.calls:
            tools[c.name] = tools.get(c.name, 0) + 1
            path = c.input.get("file_path") or c.input.get("notebook_path") or c.input.get("path")
            summary = (
                c.cmd
                or (ev.relative(str(path), self.cwd) if path else "")
                or str(c.input.get("pattern") or c.input.get("url") or c.input.get("skill") or "")
            )
            if not summary and c.input:
                summary = ev.json.dumps(c.input, ensure_ascii=False)
            if len(calls) < MAX_CALLS:
                calls.append(
                    ToolCall(
                        turn=c.turn,
                        name=c.name,
                        summary=summary[:500],
                        is_error=c.is_error,
                        exit_code=c.exit_code,
                    )
                )
            if c.name == "NotebookEdit" and not failed_call(c):
                self.touched(str(c.input.get("notebook_path") or "") or None)
            if c.cmd:
                for f in ev.shell_files(
                    c.cmd
                ):  # whatever the exit code: `sed -i x && pytest` edits, then fails
                    self.touched(f)
                self.skill(ev.skill_from_path(c.cmd))
                if ev.is_test_command(c.cmd):
                    tests.append(ev.test_run(c.turn, c.cmd, c.output, c.exit_code, c.is_error))
            if failed_call(c):
                line = ev.error_line(c.output) or (
                    f"{c.name} exit {c.exit_code}" if c.exit_code else ""
                )
                if line:
                    ev.add_error(errors, line, "tool")
        edits = [e for c in self.calls for e in self._edits(c)][:MAX_EDITS]
        for e in edits:  # a failed edit touched nothing
            if not e.is_error:
                for f in [e.path] if e.path else ev.patch_files(e.patch or ""):
                    self.touched(f)
        for msg in self.api_errors:
            ev.add_error(errors, msg.splitlines()[0] if msg else "api error", "api")
        times = sorted(self.times)
        return Digest(
            schema=DIGEST_SCHEMA,
            id=f"{self.agent}:{self.session_id}",
            agent=self.agent,  # type: ignore[arg-type]
            session_id=self.session_id,
            cli_version=self.cli_version,
            model=self.model,
            project=project,
            cwd=self.cwd,
            branch=self.branch,
            start=start,
            started_at=times[0] if times else None,
            ended_at=times[-1] if times else None,
            source_file=self.source_file,
            archived=self.archived,
            turns=[t for t in self.turns if t.prompt or t.final_answer or t.tool_calls],
            tools=tools,
            tool_calls=calls,
            skills=self.skills,
            files_touched=self.files,
            edits=edits,
            test_runs=tests,
            errors=list(errors.values()),
            tokens=self.tokens,
        )

    def _edits(self, c: Call) -> list[FileEdit]:
        cut = False

        def text(v: object) -> str | None:
            nonlocal cut
            if not isinstance(v, str):
                return None
            cut = cut or len(v) > MAX_EDIT_CHARS
            return v[:MAX_EDIT_CHARS]

        def path(v: object) -> str:
            return ev.relative(str(v), self.cwd) if v else ""

        def edit(op: Any, **kw: Any) -> FileEdit:
            return FileEdit(turn=c.turn, tool=c.name, is_error=c.is_error, op=op, **kw)

        inp = c.input
        out: list[FileEdit] = []
        if c.name == "Write":
            out.append(
                edit("write", path=path(inp.get("file_path")), content=text(inp.get("content")))
            )
        elif c.name in ("Edit", "MultiEdit"):
            steps = inp.get("edits") if c.name == "MultiEdit" else [inp]
            for st in steps if isinstance(steps, list) else []:
                if isinstance(st, dict):
                    out.append(
                        edit(
                            "replace",
                            path=path(inp.get("file_path")),
                            old=text(st.get("old_string")),
                            new=text(st.get("new_string")),
                            replace_all=bool(st.get("replace_all")),
                        )
                    )
        elif c.name == "apply_patch":
            out.append(edit("patch", patch=text(inp.get("input") or inp.get("patch"))))
        elif c.cmd and ev.shell_files(c.cmd):
            out.append(edit("shell", cmd=text(c.cmd)))
        for e in out:
            e.truncated = cut
        return out

    @property
    def first_time(self) -> datetime | None:
        return min(self.times) if self.times else None
