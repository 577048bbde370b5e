"""The task file format, ``harness.task/v1``, as pydantic models.

Why pydantic with ``extra="forbid"``: a typo in a task file (``promt:``) must stop the run
before any container starts, with the file, line and field, not be silently ignored.
Check specs stay plain dicts here: their vocabulary belongs to the gate, which validates
them (its check registry; see :mod:`harness.tasks.checkspecs`). The Gateway policy stays opaque for the same
reason: the Gateway owns its format.

Paths inside a task (workspace, tool pages, dockerfile, tests, oracle, script file) are
relative to the task file's folder; :attr:`Task.base_dir` remembers that folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

SCHEMA_ID = "harness.task/v1"
SUITE_SCHEMA_ID = "harness.suite/v1"
SPLITS: tuple[str, ...] = ("train", "heldout", "frozen")
Split = Literal["train", "heldout", "frozen"]

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
# Constructs Python's re accepts but grep -E (POSIX ERE, used by the shims) does not.
_NON_ERE = (("(?", "inline groups/flags"), ("\\d", "use [0-9]"), ("\\D", "use [^0-9]"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


#: the scripted model's rules: ``script:``, or ``policy:`` as older files say
SCRIPT_KEYS = AliasChoices("script", "policy")


def script_key(data: Any) -> str:
    """The key a task or suite mapping gives its script under (``script`` when neither)."""
    return "policy" if isinstance(data, dict) and "policy" in data and "script" not in data else "script"


def _one_script_key(data: Any) -> Any:
    if isinstance(data, dict) and "script" in data and "policy" in data:
        raise ValueError("give `script:` only (`policy:` is its old name), not both")
    return data


def _looks_like_git(value: str) -> bool:
    return "://" in value or value.startswith("git@") or value.endswith(".git")


class Workspace(_Model):
    """Where the sandbox's working tree comes from: a local folder or a git repo at a ref.

    A plain string is accepted as shorthand: a URL (or ``*.git``) means ``git``, anything
    else a folder. No workspace at all means an empty git repo.
    """

    path: str | None = None
    git: str | None = None
    ref: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"git": data} if _looks_like_git(data) else {"path": data}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Workspace:
        if (self.path is None) == (self.git is None):
            raise ValueError("give exactly one of 'path' (a folder) or 'git' (a repo url/path)")
        if self.ref is not None and self.git is None:
            raise ValueError("'ref' only applies to a 'git' workspace")
        return self


def check_ere(pattern: str) -> str | None:
    """Why a pattern cannot be used by a shell shim (grep -E), or None when it can."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regex {pattern!r}: {exc}"
    for bad, hint in _NON_ERE:
        if bad in pattern:
            return f"regex {pattern!r} uses {bad!r}, which grep -E does not support ({hint})"
    return None


class ToolResponse(_Model):
    """One scripted answer: printed when ``match`` (POSIX ERE) matches the joined args."""

    match: str
    output: str = ""
    exit_code: int = Field(0, ge=0, le=255)

    @field_validator("match")
    @classmethod
    def _ere(cls, v: str) -> str:
        problem = check_ere(v)
        if problem:
            raise ValueError(problem)
        return v


class SearchSpec(_Model):
    """A ``search`` over a folder of markdown pages copied into the sandbox.

    The shim ranks pages by how many query words they contain and prints the top ``k``
    as ``<slug>\\t<title>`` lines; a slug is the page path relative to ``pages`` without
    ``.md`` (``topics/some-page``), which is what qrels judges expect.
    """

    pages: str
    k: int = Field(5, ge=1, le=100)


class Tool(_Model):
    """A shell shim put on PATH in the sandbox. Exactly one of the four behaviours."""

    name: str
    description: str = ""
    output: str | None = None
    responses: list[ToolResponse] | None = None
    default: str = ""
    script: str | None = None
    search: SearchSpec | None = None
    exit_code: int = Field(0, ge=0, le=255)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not TOOL_NAME_RE.match(v):
            raise ValueError(f"tool name {v!r} must match {TOOL_NAME_RE.pattern}")
        return v

    @model_validator(mode="after")
    def _one_behaviour(self) -> Tool:
        given = [k for k in ("output", "responses", "script", "search") if getattr(self, k)
                 is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'output', 'responses', 'script' or 'search'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class AgentOverride(_Model):
    """Per-agent differences (keyed by agent name): another prompt, timeout, extra checks."""

    prompt: str | None = None
    turns: list[str] | None = None
    timeout_sec: int | None = Field(None, gt=0)
    checks: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _prompt_xor_turns(self) -> AgentOverride:
        if self.prompt is not None and self.turns is not None:
            raise ValueError("give 'prompt' or 'turns', not both")
        return self


class TestsSpec(_Model):
    """Hidden tests (Terminal-Bench style): copied to ``test_dir`` only after the agent ran.

    ``offline_cmd`` runs the same tests with what the image already has (no installer
    download). The runner copies ``dir`` to ``test_dir`` after the agent is done and adds a
    ``tests`` check from ``cmd`` (or ``offline_cmd`` in an offline run) itself, so these
    tests do not belong in ``checks``.
    """

    dir: str | None = None
    cmd: str
    offline_cmd: str | None = None
    format: Literal["pytest", "junit"] = "pytest"
    test_dir: str = "/tests"
    timeout_sec: int = Field(600, gt=0)


class Task(_Model):
    """One task: a prompt (or turns), a workspace, tools, checks and a split."""

    schema_: Literal["harness.task/v1"] = Field("harness.task/v1", alias="schema")
    id: str
    prompt: str | None = None
    turns: list[str] | None = None
    workspace: Workspace | None = None
    setup: list[str] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)
    checks: list[dict[str, Any]] = Field(default_factory=list)
    timeout_sec: int = Field(900, gt=0)
    split: Split = "train"
    tags: list[str] = Field(default_factory=list)
    agents: dict[str, AgentOverride] = Field(default_factory=dict)
    #: the scripted model's rules: a YAML file or an inline mapping (``policy:`` is its old name)
    script: str | dict[str, Any] | None = Field(None, validation_alias=SCRIPT_KEYS)
    image: str | None = None
    dockerfile: str | None = None
    build_context: str | None = None
    tests: TestsSpec | None = None
    oracle: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _script_once(cls, data: Any) -> Any:
        return _one_script_key(data)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"id {v!r} must match {ID_RE.pattern} (it names artifact folders)")
        return v

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("the prompt is empty")
        return v

    @field_validator("turns")
    @classmethod
    def _turns(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or not all(t.strip() for t in v)):
            raise ValueError("must be a non-empty list of non-empty strings")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Task:
        if (self.prompt is None) == (self.turns is None):
            raise ValueError("give exactly one of 'prompt' or 'turns'")
        names = [t.name for t in self.tools]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ValueError(f"duplicate tool names: {', '.join(dups)}")
        return self

    # -- where the task came from ------------------------------------------------------

    @property
    def base_dir(self) -> Path:
        """The folder the task's relative paths are resolved against."""
        return self._base_dir

    @property
    def source(self) -> str:
        """``file:line`` of the task's definition (empty for tasks built in code)."""
        return self._source

    def bind(self, base_dir: Path, source: str = "") -> Task:
        """Attach the task file's folder and location; returns self for chaining."""
        self._base_dir = base_dir.resolve()
        self._source = source
        return self

    def resolve(self, rel: str) -> Path:
        """A path from the task file, resolved against the task file's folder."""
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self._base_dir / p).resolve()

    # -- what the runner asks ------------------------------------------------------------

    def prompt_turns(self, agent: str | None = None) -> list[str]:
        """The user messages to type, in order; an agent override replaces them whole."""
        ov = self.agents.get(agent) if agent else None
        if ov is not None and ov.turns is not None:
            return list(ov.turns)
        if ov is not None and ov.prompt is not None:
            return [ov.prompt]
        return list(self.turns) if self.turns is not None else [self.prompt or ""]

    def timeout_for(self, agent: str | None = None) -> int:
        """Per-trial timeout in seconds, with the agent's override if any."""
        ov = self.agents.get(agent) if agent else None
        return ov.timeout_sec if ov is not None and ov.timeout_sec else self.timeout_sec

    def checks_for(self, agent: str | None = None) -> list[dict[str, Any]]:
        """The task's checks plus the agent's extra checks."""
        ov = self.agents.get(agent) if agent else None
        return [*self.checks, *(ov.checks if ov is not None else [])]

    def workspace_source(self) -> WorkspaceSource:
        """What to copy into the sandbox, with local paths resolved."""
        ws = self.workspace
        if ws is None:
            return WorkspaceSource(kind="empty")
        if ws.path is not None:
            return WorkspaceSource(kind="dir", path=self.resolve(ws.path))
        assert ws.git is not None
        remote = "://" in ws.git or ws.git.startswith("git@")
        url = ws.git if remote else str(self.resolve(ws.git))
        return WorkspaceSource(kind="git", url=url, ref=ws.ref)

    def script_source(self) -> Path | dict[str, Any] | None:
        """The scripted model's rules: a resolved file path, an inline dict, or None."""
        if isinstance(self.script, str):
            return self.resolve(self.script)
        return self.script

    policy_source = script_source  # the name the trial code still uses

    def environment_source(self) -> EnvironmentSource | None:
        """The task's own image (Terminal-Bench style), or None to use the agent's image.

        ``dockerfile`` wins over ``image`` when both are given: ``image`` then names the tag
        to build to. The build context defaults to the Dockerfile's folder.
        """
        if self.dockerfile is None and self.image is None:
            return None
        dockerfile = self.resolve(self.dockerfile) if self.dockerfile else None
        context = self.resolve(self.build_context) if self.build_context else (
            dockerfile.parent if dockerfile else None)
        return EnvironmentSource(image=self.image, dockerfile=dockerfile, context=context)

    def tests_source(self) -> Path | None:
        """Host folder of hidden tests, copied to ``tests.test_dir`` only at check time."""
        return self.resolve(self.tests.dir) if self.tests and self.tests.dir else None

    def oracle_script(self) -> str | None:
        """The oracle (solution) script's text, to be typed into the pane; None if absent."""
        return self.resolve(self.oracle).read_text(encoding="utf-8") if self.oracle else None


@dataclass(frozen=True)
class WorkspaceSource:
    """A resolved workspace: ``empty`` (git init), ``dir`` (copy ``path``) or ``git``."""

    kind: Literal["empty", "dir", "git"]
    path: Path | None = None
    url: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class EnvironmentSource:
    """A task-specific image: a prebuilt ``image`` and/or a ``dockerfile`` + ``context``."""

    image: str | None = None
    dockerfile: Path | None = None
    context: Path | None = None


class SuiteConfig(_Model):
    """``suite.yaml``: suite-level defaults applied to every task that does not set them."""

    schema_: Literal["harness.suite/v1"] = Field("harness.suite/v1", alias="schema")
    name: str | None = None
    description: str = ""
    agent: str | None = None
    variants: dict[str, str] = Field(default_factory=dict)
    #: attempts per task and variant when ``--trials`` is not given (the gate wants 2+ to see
    #: attempt noise; one attempt per task is said plainly in its decision)
    trials: int | None = Field(None, ge=1)
    script: str | dict[str, Any] | None = Field(None, validation_alias=SCRIPT_KEYS)
    timeout_sec: int | None = Field(None, gt=0)
    split: Split | None = None
    tags: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=lambda: ["**/*.yaml", "**/*.yml", "**/*.json"])
    exclude: list[str] = Field(default_factory=list)
    #: False for a suite ``harness mine`` wrote: record/live runs refuse it until a person
    #: has read its tasks and set this to true (hand-written suites need not say)
    reviewed: bool = True

    @model_validator(mode="before")
    @classmethod
    def _script_once(cls, data: Any) -> Any:
        return _one_script_key(data)
