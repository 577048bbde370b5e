"""What harvest keeps of one Session (a ``Digest``) and what one harvest reports.

Why a digest and not the session file: both CLIs delete old sessions (Claude after 30 days
by default), and mining, replay and the nightly loop need only what is here: where the
session started (repo, branch, start commit), what the user asked, what the agent answered,
which tools, skills, files and test commands it used and how they ended, and the errors it
hit under a signature stable across runs. Everything is redacted before it is built into
these models (see :mod:`harness.harvest.redact`); ``extra="forbid"`` keeps the JSON a
contract the next stages can rely on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

DIGEST_SCHEMA: Final = "harness.digest/v1"
REPORT_SCHEMA: Final = "harness.harvest/v1"
Agent = Literal["claude", "codex", "opencode", "gemini", "qwen"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Model):
    """One human prompt and the agent's last text before the next prompt."""

    index: int
    prompt: str
    final_answer: str = ""
    at: datetime | None = None
    tool_calls: int = 0


class ToolCall(_Model):
    """One tool call, summarised: its name, the command or path it acted on, how it ended."""

    turn: int
    name: str
    summary: str = ""  # the shell command, the file path, or the input (truncated)
    is_error: bool = False
    exit_code: int | None = None


class FileEdit(_Model):
    """One edit the agent made, as its tool made it, so a replay can redo the session's work
    at its start commit (an oracle): a whole-file write, a string replacement, an
    ``apply_patch`` envelope, or a shell command that writes files. Long texts are cut at
    ``MAX_EDIT_CHARS`` (``truncated``); failed edits are kept with ``is_error``."""

    turn: int
    tool: str
    op: Literal["write", "replace", "patch", "shell"]
    path: str = ""  # relative to cwd when inside it ("" for patch / shell)
    content: str | None = None  # write: the new file
    old: str | None = None  # replace: the text replaced ...
    new: str | None = None  # ... and its replacement
    replace_all: bool = False
    patch: str | None = None
    cmd: str | None = None
    is_error: bool = False
    truncated: bool = False


class TestRun(_Model):
    """A shell command that ran tests, and how it ended (exit code first, output second)."""

    turn: int
    cmd: str
    outcome: Literal["passed", "failed", "unknown"]
    exit_code: int | None = None
    summary: str = ""  # the runner's last summary line ("Ran 2 tests", "3 passed")


class ErrorSignature(_Model):
    """An error normalised so the same failure in two sessions gets the same signature."""

    signature: str
    source: Literal["tool", "api"]
    count: int = 1
    example: str = ""


class StartState(_Model):
    """The repo state the session started from, or why it is unknown.

    ``how``: ``session`` (codex recorded the commit), ``rev-list`` (the last commit on the
    session's branch before its first timestamp), ``default-branch`` (the branch was gone;
    ``approximate``). ``commit`` is None when ``problem`` says why (no repo, repo gone,
    commit gone)."""

    repo: str | None = None  # the repository's top level on this machine
    commit: str | None = None
    branch: str | None = None
    repository_url: str | None = None
    how: Literal["session", "rev-list", "default-branch", "none"] = "none"
    approximate: bool = False
    problem: str | None = None


class Tokens(_Model):
    input: int = 0
    output: int = 0
    cached_input: int = 0


class Digest(_Model):
    schema_: Literal["harness.digest/v1"] = Field("harness.digest/v1", alias="schema")
    id: str  # "<agent>:<session id>"
    agent: Agent
    session_id: str
    cli_version: str = ""
    model: str = ""
    project: str = ""  # the --project the session was harvested under ("" = all)
    cwd: str = ""
    branch: str | None = None
    start: StartState = Field(default_factory=StartState)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    source_file: str = ""
    archived: bool = False
    turns: list[Turn] = Field(default_factory=list)
    tools: dict[str, int] = Field(default_factory=dict)  # name -> calls
    tool_calls: list[ToolCall] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    files_touched: list[str] = Field(default_factory=list)  # relative to cwd when inside it
    edits: list[FileEdit] = Field(default_factory=list)
    test_runs: list[TestRun] = Field(default_factory=list)
    errors: list[ErrorSignature] = Field(default_factory=list)
    tokens: Tokens = Field(default_factory=Tokens)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def prompts(self) -> list[str]:
        return [t.prompt for t in self.turns]

    @property
    def final_answer(self) -> str:
        return self.turns[-1].final_answer if self.turns else ""

    @property
    def tests_passed_at_end(self) -> bool | None:
        """How the session's last test run ended (None when it ran none)."""
        return None if not self.test_runs else self.test_runs[-1].outcome == "passed"


class Problem(_Model):
    """One bad thing in the input, located: the file, the line (when there is one), what."""

    file: str
    line: int | None = None
    what: str


class Skipped(_Model):
    """A session file that was read (or looked at) and not kept, and why."""

    file: str
    agent: Agent
    session_id: str = ""
    reason: str


class HarvestReport(_Model):
    """One harvest: counts first (so nothing is silently lost), then the details."""

    schema_: Literal["harness.harvest/v1"] = Field("harness.harvest/v1", alias="schema")
    at: datetime
    project: str = ""
    sources: dict[str, str] = Field(default_factory=dict)  # agent -> home directory
    since: datetime | None = None
    found: int = 0  # session files seen
    read: int = 0  # parsed this time
    kept: int = 0  # digests written (new or updated)
    unchanged: int = 0  # harvested before and not changed since (not re-read)
    skipped: int = 0
    skipped_reasons: dict[str, int] = Field(default_factory=dict)
    skipped_sessions: list[Skipped] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    digests: list[Digest] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
