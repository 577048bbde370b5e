"""aider (``aider``, PyPI aider-chat) as data + a thin class.

Read from the pinned version's source (0.86.2) and checked against the real CLI:

- Wire: Chat Completions through litellm: ``OPENAI_API_BASE`` (the Gateway's ``/v1``) and
  ``OPENAI_API_KEY`` (the per-trial key), model ``openai/<name>``. aider declares no tools:
  its "tool calls" are SEARCH/REPLACE edit blocks (``--edit-format diff``) and fenced shell
  blocks in the reply's text (the wire renders a policy's ``shell`` call as such a block).
- Offline: ``--no-check-update``, ``--analytics-disable``, ``--no-show-release-notes``,
  ``--no-detect-urls`` (no page scraping), litellm's bundled price map
  (``LITELLM_LOCAL_MODEL_COST_MAP``), and aider's own model-info cache
  (``~/.aider/caches/model_prices_and_context_window.json``) written fresh per trial with the
  pinned model's entry, so aider's 24-hour cache never asks the network for a new one; and
  ``~/.aider/installs.json`` saying this version ran before (see ``config_files``).
- Git: aider works in the workspace repo (its repo map lists the tracked files) but never
  commits (``--no-auto-commits``, ``--no-dirty-commits``) nor edits ``.gitignore``
  (``--no-gitignore``); its history files live under ``~/.aider``, not in the workspace, so
  the harness's snapshot diff sees only the agent's edits.
- Answers: no ``--yes-always``: under it aider answers "no" to the questions it wants a
  user to say yes to explicitly (running a suggested shell command), so the model's shell
  blocks would never run. Its ``(Y)es/(N)o ... [Yes]:`` questions show, and the profile's
  dialog answers them "y" on the screen.
- Memory and skills: ``--read CONVENTIONS.md`` (the memory file) and ``--read ~/.aider/skills``
  (a folder: aider adds every file under it read-only), so a SKILL.md's front matter
  (``name:`` / ``description:``) reaches the model in the read-only files message.
- Completion: ``--notifications --notifications-command "harness-hook aider-notification"``:
  aider runs it the first time it waits for the user after a model reply (its next input
  prompt, or a confirmation it asks first; the busy markers below veto the latter).
- Turns: aider asks the model once per user message; the commands a reply suggests run
  after it (the Gateway renders a multi-line one as one line: aider runs each line of a
  block alone) and their output waits for the next message. So while the chat history
  shows a command ran since the last user message, the driver types the harness's
  continue message (``FollowUp``); the Gateway counts each as a tool round and the parser
  folds it into its turn, so one policy's ``step`` / ``tool_result`` rules serve aider too.
- Transcript: ``~/.aider/chat.history.md`` (``--chat-history-file``): ``#### `` lines are the
  user's, ``> `` lines aider's own output (edits applied, commands run, token counts), the
  rest the model's text. The raw requests go to ``~/.aider/llm.history``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from controllers.profiles.base import (
    AGENT_HOME,
    HOOK_PATH,
    Dialog,
    FollowUp,
    ImageBuild,
    LaunchContext,
    LaunchSpec,
    ProfileSpec,
)
from controllers.profiles.common import FileMap, FileProfile
from harness.episode import CONTINUE_TEXT, Episode, ToolCall, Turn

VERSION = "0.86.2"
AIDER_HOME = f"{AGENT_HOME}/.aider"
CHAT_HISTORY = f"{AIDER_HOME}/chat.history.md"
LLM_HISTORY = f"{AIDER_HOME}/llm.history"
INPUT_HISTORY = f"{AIDER_HOME}/input.history"
SKILLS_DIR = f"{AIDER_HOME}/skills"
MODEL_CACHE = f"{AIDER_HOME}/caches/model_prices_and_context_window.json"
INSTALLS = f"{AIDER_HOME}/installs.json"
#: the image's venv interpreter: aider keys its first-run record by (version, executable)
PYTHON = "/opt/aider/bin/python3"

SPEC = ProfileSpec(
    name="aider",
    image="aider",
    binary="aider",
    args=(),
    env={
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "AIDER_CHECK_UPDATE": "false",
        "AIDER_ANALYTICS_DISABLE": "true",
    },
    # the input prompt: "> " as the last line (prompt_toolkit's, under a rule). Every pattern
    # here is anchored at the screen's end with possessive quantifiers: the screen is
    # classified 20 times a second, and a backtracking one froze the driver.
    idle=(r"^> *+\s*+\Z",),
    # the model's spinner ("Waiting for openai/..."), and any screen whose last line is not
    # the input prompt or a question: aider prints its work line by line (the reply, edits
    # applied, a command's output) and draws "> " again only when it waits for the user
    busy=(r"Waiting for ",
          r"^(?!> *$)(?![^\n]*\[(?:Yes|No)\]: *$)(?=[^\n]*\S)[^\n]*+\s*+\Z"),
    # aider's yes/no questions (create a file, run a suggested shell command, add its output
    # to the chat): answered with Enter, their default Yes, as a user who lets the agent work
    # would; one whose default is No is not guessed at (a blocking hint)
    dialogs=(
        Dialog("confirm-yes", r"\? \(Y\)es/\(N\)o[^\n]*\[Yes\]: *+\s*+\Z", ("Enter",),
               "(Y)es, the default"),
    ),
    blocking_hints=(r"\(Y\)es/\(N\)o[^\n]*\[No\]: *+\s*+\Z",),
    idle_masks=(r"\d+(\.\d+)?k? (sent|received)", r"\$\d+\.\d+"),
    memory_file="CONVENTIONS.md",
    user_skills_dir="~/.aider/skills",
    project_skills_dir="",
    transcript_glob=CHAT_HISTORY,
    transcript_beside=(LLM_HISTORY,),  # the commands' output is only in the requests
    image_build=ImageBuild(build_args={"AIDER_VERSION": VERSION}),
    default_model="gpt-4.1",
    wire_api="openai_chat",
    completion="hook",  # --notifications-command runs harness-hook
    startup_sec=180.0,  # a heavy start: missed 90 s on the shared CI machine under load
    # aider asks the model once per user message: a command the reply suggested runs after
    # it, and its output waits for the next message. While the history shows a command ran
    # since the last user message, the driver types the continue message (see FollowUp)
    follow_up=FollowUp(text=CONTINUE_TEXT, history=CHAT_HISTORY, user_line=r"^#### .*$",
                       pending=r"^> Running "),
    home_state=(".aider", ".aider.conf.yml", ".aider.model.metadata.json",
                ".aider.model.settings.yml"),
)


def model_cache(model: str) -> dict[str, dict[str, object]]:
    """aider's model-info cache with the trial's model in it: a fresh, non-empty cache is
    what keeps aider from downloading litellm's price map; the entry gives the context
    window, so no "unknown model" warning shows."""
    entry = {"max_input_tokens": 128000, "max_tokens": 32768, "max_output_tokens": 32768,
             "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
             "litellm_provider": "openai", "mode": "chat"}
    return {model: entry, f"openai/{model}": entry}


class AiderProfile(FileProfile):
    spec = SPEC

    def config_files(self, ctx: LaunchContext) -> FileMap:
        return {
            MODEL_CACHE: (json.dumps(model_cache(ctx.model)), 0o644, "agent"),
            f"{SKILLS_DIR}/.keep": (b"", 0o644, "agent"),
            # not aider's first run: its slow imports (litellm, numpy, scipy...) load in a
            # background thread, not before the prompt shows (a minute on a busy machine)
            INSTALLS: (json.dumps({str((VERSION, PYTHON)): True}), 0o644, "agent"),
        }

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        argv = [
            # the weak model (summaries) is the trial's model: its info is in the cache
            # written above, so start-up needs no litellm lookup (a long import)
            SPEC.binary, "--model", f"openai/{ctx.model}", "--weak-model", f"openai/{ctx.model}",
            "--edit-format", "diff",
            "--no-check-update", "--analytics-disable", "--no-show-release-notes",
            "--no-show-model-warnings", "--no-detect-urls", "--no-auto-commits",
            "--no-dirty-commits", "--no-gitignore",
            "--chat-history-file", CHAT_HISTORY, "--input-history-file", INPUT_HISTORY,
            "--llm-history-file", LLM_HISTORY,
            # stdin from /dev/null: the hook reads a payload from stdin when given none, and
            # aider's stdin is the terminal
            "--notifications", "--notifications-command", f"{HOOK_PATH} aider-notification </dev/null",
            "--map-tokens", "0",
            "--read", SKILLS_DIR,
        ]
        # the memory file only when the workspace has one (aider warns about a missing one)
        script = ('[ -f "$1" ] && set -- "$@" --read "$1"; shift; exec "$@"')
        env = {**self.harness_env(ctx), "OPENAI_API_BASE": f"{ctx.gateway_url}/v1",
               "OPENAI_API_KEY": ctx.api_key}
        return LaunchSpec(["sh", "-c", script, "aider-launch", SPEC.memory_file, *argv],
                          env, ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        return parse_aider(path, requests=path.with_name(Path(LLM_HISTORY).name))


# ---------------------------------------------------------------- the transcript

_TOKENS = re.compile(r"Tokens: ([\d.]+)(k?) sent(?:, ([\d.]+)(k?) cache \w+)*, ([\d.]+)(k?) received")
_RUNNING = re.compile(r"^Running (.+)$")
_APPLIED = re.compile(r"^Applied edit to (.+)$")
_MODEL = re.compile(r"^(?:Main model|Model): (\S+)")  # "Model:" when the weak one is the same
_OUTPUT = re.compile(r"^Added \d+ lines? of output to the chat\.$")


def _count(num: str, k: str) -> int:
    return int(round(float(num) * (1000 if k else 1)))


_REQUEST = re.compile(r"^TO LLM \d{4}-\d\d-\d\dT[\d:]+$", re.MULTILINE)
_RESPONSE = re.compile(r"^LLM RESPONSE \d{4}-\d\d-\d\dT[\d:]+$", re.MULTILINE)
_SHARED = re.compile(r"^Output from (.*)$", re.MULTILINE)
_CSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colours: the command ran in a terminal


def shared_outputs(log: str) -> list[tuple[str, str]]:
    """``(command, output)`` for each command whose output aider shared with the model, in
    order, from its request log (``--llm-history-file``): the last request holds the whole
    chat, each message after a ``-------`` line, each of its lines led by the role."""
    starts = list(_REQUEST.finditer(log))
    if not starts:
        return []
    last = log[starts[-1].end():]
    end = _RESPONSE.search(last)
    last = last[:end.start()] if end else last
    out: list[tuple[str, str]] = []
    for msg in last.split("\n-------\n"):
        lines = msg.strip("\n").split("\n")
        if not lines or not lines[0].startswith("USER Output from "):
            continue
        text = "\n".join(ln[5:] if ln.startswith("USER ") else ln.removeprefix("USER") for ln in lines)
        heads = list(_SHARED.finditer(text))
        for i, m in enumerate(heads):
            stop = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            out.append((m.group(1).strip(), _CSI.sub("", text[m.end():stop].strip("\n").replace("\r", ""))))
    return out


def _fill_outputs(ep: Episode, shared: list[tuple[str, str]]) -> None:
    """Each shell call's output: the next shared output of the same command."""
    for c in ep.tool_calls:
        if c.name != "shell":
            continue
        i = next((i for i, (cmd, _) in enumerate(shared) if cmd == c.input.get("command")), None)
        if i is not None:
            c.output = shared.pop(i)[1]


def parse_aider(path: Path, requests: Path | None = None) -> Episode:
    """The Episode of one aider chat history (see the module docstring for its shape).

    Each ``#### `` run starts a turn, but for the harness's continue message, which goes on
    with the turn before it; the model's text between aider's ``> `` lines is the turn's
    text; ``Running <cmd>`` is a shell call, ``Applied edit to <file>`` an edit call. A
    command's output is not in the chat history: it is read from aider's request log
    (``requests``) when that is at hand, else the call says only that it was shared."""
    ep = Episode(agent="aider")
    turn: Turn | None = None
    user: list[str] = []
    text: list[str] = []
    n = 0

    def flush_text() -> None:
        if turn is not None and "".join(text).strip():
            t = "\n".join(text).strip()
            turn.texts.append(t)
            turn.final_text = t
        text.clear()

    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("#### ") and turn is not None and not user and \
                raw[5:].startswith(CONTINUE_TEXT):
            flush_text()  # the harness going on with this turn: not a new one
            continue
        if raw.startswith("#### "):
            flush_text()
            user.append(raw[5:].rstrip())
            continue
        if user:
            turn = Turn(index=len(ep.turns), user_text="\n".join(user))
            ep.turns.append(turn)
            user.clear()
        if raw.startswith("# aider chat started at"):
            flush_text()
            ep.session_id = ep.session_id or raw.split(" at ", 1)[1].strip()
            continue
        if raw == ">" or raw.startswith("> "):  # not a ">>>>>>> REPLACE" line of the reply
            flush_text()
            line = raw[1:].strip()
            m = _MODEL.match(line)
            if m:
                ep.model = m.group(1).removeprefix("openai/")
            if turn is None:
                continue
            m = _TOKENS.search(line)
            if m:
                ep.usage.input_tokens += _count(m.group(1), m.group(2))
                ep.usage.output_tokens += _count(m.group(5), m.group(6))
            elif (m := _RUNNING.match(line)) is not None:
                n += 1
                turn.tool_calls.append(ToolCall(id=f"aider-{n}", name="shell",
                                                input={"command": m.group(1)}))
                turn.final_text = ""
            elif (m := _APPLIED.match(line)) is not None:
                n += 1
                turn.tool_calls.append(ToolCall(id=f"aider-{n}", name="edit",
                                                input={"path": m.group(1)}))
                turn.final_text = ""
            elif _OUTPUT.match(line) and turn.tool_calls:
                turn.tool_calls[-1].output = turn.tool_calls[-1].output or line
            continue
        if turn is not None:
            text.append(raw)
    flush_text()
    if user:
        ep.turns.append(Turn(index=len(ep.turns), user_text="\n".join(user)))
    if requests is not None and requests.is_file():
        _fill_outputs(ep, shared_outputs(requests.read_text(errors="replace")))
    return ep
