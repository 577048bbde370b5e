"""AgentProfile: how one agent CLI is installed, configured, launched and read.

Why mostly data: the CLIs change their config keys, dialogs and screens between versions.
Keeping binary, flags, env, seeded files, skill locations, screen patterns and dialog
answers as validated data (``ProfileSpec``) makes a version bump an edit of a table, and
lets tests check the table against the real screens. The classes stay thin.

Screen reading order (``classify``): a known dialog (answered with its keys, logged) beats
an unknown menu that replaced the input box (``menus``: e.g. claude's "Dangerous rm
operation ... Do you want to proceed?"), which beats busy markers, which beat the idle
prompt; then a screen that only hints at a question (``blocking_hints``). Either unknown kind
is ``blocked`` (the trial ends ``agent_error`` with the screen attached). Why ``menus`` come
before idle: the echo of the user's prompt in the scrollback (claude's ``❯ <prompt>``) reads
as the idle prompt, and the turn was called done under an open permission menu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from controllers.sandbox.base import Sandbox

if TYPE_CHECKING:
    from harness.episode import Episode

HOOK_SCRIPT = Path(__file__).with_name("hook.sh").read_text()
HOOK_PATH = "/opt/harness/bin/harness-hook"
AGENT_HOME = "/home/agent"
STATE_DIR = f"{AGENT_HOME}/.harness"


class ScreenKind(str, Enum):
    STARTING = "starting"   # nothing recognisable yet
    DIALOG = "dialog"       # a known dialog we can answer
    BUSY = "busy"           # the agent is working
    IDLE = "idle"           # the input prompt is waiting for us
    BLOCKED = "blocked"     # an unknown menu / question: we will not guess


@dataclass(frozen=True)
class Dialog:
    """A screen the CLI may show, recognised by ``pattern`` and answered with ``keys``.

    ``keys`` are tmux key names (``Enter``, ``Down``, ``Escape``...) sent one by one: never a
    blind Enter; each answer names the option it picks so the log says what we chose.
    """

    name: str
    pattern: str
    keys: tuple[str, ...]
    choice: str

    def __post_init__(self) -> None:
        re.compile(self.pattern)


@dataclass(frozen=True)
class ScreenState:
    kind: ScreenKind
    dialog: Dialog | None = None
    detail: str = ""


@dataclass(frozen=True)
class ImageBuild:
    """How an agent's image is built: the Dockerfile's folder, its parent image and its build
    args (the CLI's pinned version). Why here: a version bump is an edit of the agent's module,
    and the content-hash tag (harness.images) follows it."""

    build_args: dict[str, str] = field(default_factory=dict)
    parent: str | None = "base"
    context: Path | None = None      # the Dockerfile's folder; None: images/<image>
    #: how to build ``parent`` when it is a shared agent image (``agent-base``) rather than a
    #: core one: planned from here, so no list of shared images is kept anywhere else
    parent_build: ImageBuild | None = None


#: how the harness knows a turn is done: the CLI runs harness-hook, or the shell's end marker
Completion = Literal["hook", "shell"]


@dataclass(frozen=True)
class FollowUp:
    """How the driver goes on with a turn the CLI stopped early.

    Why: aider sends one model request per user message; the commands a reply suggests run
    after it, and their output waits for the user's next message, so a model that wants to
    see a test result before finishing (what a skill asks) never gets to within the turn.
    While the CLI's history file (``history``, in the sandbox) shows, after its last user
    message (a ``user_line`` match), that the reply ran a command (``pending``), the driver
    types ``text`` (:data:`harness.episode.CONTINUE_TEXT`, which the CLI's parser and the
    Gateway know is not the human's), at most ``rounds`` times per turn."""

    text: str
    history: str
    user_line: str
    pending: str
    rounds: int = 12

    def __post_init__(self) -> None:
        re.compile(self.user_line, re.MULTILINE)
        re.compile(self.pending, re.MULTILINE)

    def due(self, history: str) -> bool:
        """Whether the last reply in ``history`` ran a command the model has not heard of."""
        last = None
        for last in re.finditer(self.user_line, history, re.MULTILINE):
            pass
        tail = history[last.end():] if last is not None else history
        return re.search(self.pending, tail, re.MULTILINE) is not None


@dataclass(frozen=True)
class ProfileSpec:
    """Everything about one CLI that is data, validated once at import."""

    name: str
    image: str                       # harness image name (images/<name>)
    binary: str
    args: tuple[str, ...]
    env: dict[str, str]
    idle: tuple[str, ...]            # regexes: the input prompt is showing
    busy: tuple[str, ...]            # regexes: the agent is working (veto idle)
    dialogs: tuple[Dialog, ...]
    blocking_hints: tuple[str, ...]  # regexes of menus that need an answer
    idle_masks: tuple[str, ...] = () # regexes masked before screen hashing (clocks, spinners)
    menus: tuple[str, ...] = ()      # regexes: an unknown menu waits for an answer (beats idle)
    memory_file: str = "AGENTS.md"
    user_skills_dir: str = ""        # e.g. ~/.claude/skills
    project_skills_dir: str = ""     # e.g. .claude/skills (relative to the workspace)
    transcript_glob: str = ""        # where the CLI writes its own session files
    #: files the CLI writes beside its transcript that its parser reads too (aider's request
    #: log, the one place its commands' output is written): the runner collects them with
    #: the transcript and keeps them beside it, under their own names
    transcript_beside: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    image_build: ImageBuild | None = None  # None: a core image (base) the harness owns
    default_model: str = ""          # the model name the CLI asks for unless told
    wire_api: str | None = None      # the Gateway wire it speaks ("anthropic", "openai"); None: no model
    completion: Completion = "hook"
    home_state: tuple[str, ...] = () # under AGENT_HOME: what the CLI leaves that the next trial must not see
    #: how long after its completion signal the screen may stay busy before the signal is
    #: taken for a side thread's: a CLI that redraws only once its hook returned needs more
    signal_settle_sec: float = 1.0
    #: how long the CLI may take to show its input prompt before the trial is its failure;
    #: the heavy starters (a big Node bundle, a Python venv) get more, because on a loaded
    #: shared machine their start alone can take minutes of wall time
    startup_sec: float = 90.0
    #: a CLI that stops after each reply whose commands ran, and how to go on (None: the
    #: CLI loops over its tool calls by itself)
    follow_up: FollowUp | None = None

    def __post_init__(self) -> None:
        for rx in (*self.idle, *self.busy, *self.blocking_hints, *self.idle_masks, *self.menus):
            re.compile(rx, re.MULTILINE)

    def classify(self, screen: str) -> ScreenState:
        """What the screen shows now (pure: unit tests feed it recorded screens)."""
        for d in self.dialogs:
            if re.search(d.pattern, screen, re.MULTILINE | re.DOTALL):
                return ScreenState(ScreenKind.DIALOG, d)
        for rx in self.menus:
            m = re.search(rx, screen, re.MULTILINE)
            if m:
                return ScreenState(ScreenKind.BLOCKED, detail=_question(screen, m.start(), m.end()))
        if any(re.search(rx, screen, re.MULTILINE) for rx in self.busy):
            return ScreenState(ScreenKind.BUSY)
        if any(re.search(rx, screen, re.MULTILINE) for rx in self.idle):
            return ScreenState(ScreenKind.IDLE)
        for rx in self.blocking_hints:
            m = re.search(rx, screen, re.MULTILINE)
            if m:
                return ScreenState(ScreenKind.BLOCKED, detail=m.group(0)[:120])
        return ScreenState(ScreenKind.STARTING)


def _question(screen: str, start: int, end: int, above: int = 4) -> str:
    """The menu's question for the trial's reason: the non-empty lines from ``above`` lines
    before the match through the line after it, on one line."""
    head = screen[:start].splitlines()[-above:]
    body = screen[start:].splitlines()[: len(screen[start:end].splitlines()) + 1]
    lines = [ln.strip() for ln in (*head, *body) if ln.strip() and not set(ln.strip()) <= set("─━-")]
    return " / ".join(lines)[:200]


@dataclass(frozen=True)
class LaunchContext:
    """Per-trial facts a profile needs: where the Gateway is, the dummy key, the socket."""

    gateway_url: str          # as seen from inside the sandbox, e.g. http://127.0.0.1:48100
    api_key: str              # dummy per-trial key (the real key never enters a sandbox)
    model: str
    workdir: str
    tmux_socket: str
    permission_mode: str = "bypass"  # "bypass" or "default" (prompts answered by policy)


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str


class PromptSource(Protocol):
    """What a profile reads of a task to choose its turns (harness.tasks' Task fits)."""

    def prompt_turns(self, agent: str | None = None) -> list[str]: ...

    def oracle_script(self) -> str | None: ...


@runtime_checkable
class AgentProfile(Protocol):
    """The seam: one agent as a unit. ``spec`` is its data (image, env, skills, model, wire,
    screens, dialogs, home state); the methods give its files, its launch line, its turns and
    its transcript as an ``Episode``.

    Implementations derive from ``common.FileProfile``, which supplies everything but the
    CLI's own config files, launch line and transcript parser."""

    spec: ProfileSpec

    @property
    def needs_gateway(self) -> bool: ...

    @property
    def home_state(self) -> tuple[str, ...]: ...

    def files(self, ctx: LaunchContext, variant: Variant, workdir: str) -> dict[str, tuple[bytes | str, int, str]]: ...

    def configure(self, box: Sandbox, ctx: LaunchContext) -> None: ...

    def launch(self, ctx: LaunchContext) -> LaunchSpec: ...

    def install_variant(self, box: Sandbox, variant: Variant, workdir: str) -> list[str]: ...

    def turns(self, task: PromptSource, box: Sandbox) -> list[str]: ...

    def parse_transcript(self, path: Path) -> Episode: ...


@dataclass(frozen=True)
class Skill:
    name: str
    files: dict[str, bytes]  # relative path inside the skill folder -> content


@dataclass(frozen=True)
class Variant:
    """One set of skill / memory files. ``baseline`` is the live set, others candidates."""

    name: str
    skills: tuple[Skill, ...] = ()
    memory: dict[str, bytes] = field(default_factory=dict)  # CLAUDE.md / AGENTS.md -> content
    source: str = ""

    def digest(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for s in sorted(self.skills, key=lambda s: s.name):
            for rel in sorted(s.files):
                h.update(f"{s.name}/{rel}\0".encode())
                h.update(s.files[rel])
        for k in sorted(self.memory):
            h.update(f"mem:{k}\0".encode())
            h.update(self.memory[k])
        return h.hexdigest()[:16]
