"""aider's profile without a container: its screens (the input prompt, its yes/no questions,
a reply being printed), its launch line (offline switches, the Gateway and the per-trial key,
the hook), and its chat history from the real CLI (0.86.2: an edit, a shell command run)
parsed into the Episode; and the Chat Completions wire finding a SKILL.md that aider added
read-only, so the scripted policy's ``skill`` rules see it. How a turn goes on: the history
says when the last reply ran a command (the driver then types the continue message), the
parser folds those messages into the turn, and the wire counts them as tool rounds, with
aider's shared command output as the round's results."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from controllers.profiles.aider import (
    CHAT_HISTORY,
    INSTALLS,
    LLM_HISTORY,
    MODEL_CACHE,
    SPEC,
    AiderProfile,
    parse_aider,
    shared_outputs,
)
from controllers.profiles.base import HOOK_PATH, LaunchContext, ScreenKind
from harness.episode import CONTINUE_TEXT
from harness.gateway.wires import openai_chat

SESSION = Path(__file__).with_name("sessions") / "aider-0.86.2.md"
#: the demo's fix-median candidate trial on the real CLI: four replies ran commands, and
#: the harness typed its continue message after each
CONTINUED = Path(__file__).with_name("sessions") / "aider-0.86.2-continued.md"
#: test_aider.py's trial on the real CLI: an edit, a command that printed "Ahoy", a continue;
#: with its request log (aider's own prompt text, system and examples, cut out)
HARBOUR = Path(__file__).with_name("sessions") / "aider-0.86.2-harbour.md"
HARBOUR_LOG = HARBOUR.with_suffix(".llm.history")
RULE = "─" * 120
IDLE = f"Aider v0.86.2\nMain model: openai/gpt-4.1 with diff edit format\n{RULE}\nReadonly: x\n>\n\n\n"
AFTER = (f"> Please write the harbour notes.\n\nWriting the notes.\n\nTokens: 2.4k sent, 39 received.\n"
         f"Applied edit to notes.txt\nAdded 2 lines of output to the chat.\n{RULE}\n"
         "Editable: notes.txt\n> \n\n")
PRINTING = "> Please write the harbour notes.\n\nWriting the notes.\n\nnotes.txt\n<<<<<<< SEARCH\n\n"
CREATE = "Tokens: 2.4k sent, 39 received.\n\nnotes.txt\nCreate new file? (Y)es/(N)o [Yes]: \n\n\n"
SHELL = "cat notes.txt\nRun shell command? (Y)es/(N)o/(D)on't ask again [Yes]:\n"
NO_DEFAULT = "Fix lint errors in a.py? (Y)es/(N)o [No]: \n"
CTX = LaunchContext(gateway_url="http://127.0.0.1:48100", api_key="hk-trial-1", model="gpt-4.1",
                    workdir="/workspace", tmux_socket="/tmp/s")


def test_screens() -> None:
    assert SPEC.classify(IDLE).kind is ScreenKind.IDLE
    assert SPEC.classify(AFTER).kind is ScreenKind.IDLE
    assert SPEC.classify(PRINTING).kind is ScreenKind.BUSY
    assert SPEC.classify("> hi\n\n░█ Waiting for openai/gpt-4.1\n").kind is ScreenKind.BUSY
    for screen in (CREATE, SHELL):
        st = SPEC.classify(screen)
        assert st.kind is ScreenKind.DIALOG and st.dialog is not None and st.dialog.keys == ("Enter",)
    assert SPEC.classify(NO_DEFAULT).kind is ScreenKind.BLOCKED


def test_launch_is_offline_on_the_gateway_with_the_trial_key() -> None:
    launch = AiderProfile().launch(CTX)
    argv = launch.argv
    assert argv[:2] == ["sh", "-c"] and "aider" in argv
    i = argv.index("aider")
    assert argv[argv.index("--model") + 1] == "openai/gpt-4.1"
    for flag in ("--no-check-update", "--analytics-disable", "--no-detect-urls",
                 "--no-auto-commits", "--no-gitignore", "--notifications"):
        assert flag in argv[i:], flag
    assert "--yes-always" not in argv  # it would answer "no" to running a shell command
    assert argv[argv.index("--notifications-command") + 1].startswith(f"{HOOK_PATH} aider-notification")
    assert argv[argv.index("--chat-history-file") + 1] == CHAT_HISTORY == SPEC.transcript_glob
    assert launch.env["OPENAI_API_BASE"] == "http://127.0.0.1:48100/v1"
    assert launch.env["OPENAI_API_KEY"] == "hk-trial-1"
    assert launch.env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    files = AiderProfile().config_files(CTX)
    cache = json.loads(files[MODEL_CACHE][0])
    assert cache["openai/gpt-4.1"]["max_input_tokens"] > 0  # a fresh, non-empty cache: no fetch
    # not a first run: aider's slow imports load behind the prompt
    assert json.loads(files[INSTALLS][0]) == {"('0.86.2', '/opt/aider/bin/python3')": True}


def test_chat_history_of_the_real_cli_parses() -> None:
    ep = parse_aider(SESSION)
    assert ep.agent == "aider" and ep.model == "gpt-4.1" and len(ep.turns) == 1
    t = ep.turns[0]
    assert t.user_text == "Please write the harbour notes."
    assert [c.name for c in t.tool_calls] == ["edit", "shell"]
    assert t.tool_calls[0].input == {"path": "notes.txt"}
    assert t.tool_calls[1].input == {"command": "cat notes.txt | sed 's/3/4/'"}
    assert ">>>>>>> REPLACE" in t.texts[0]  # the reply's own ">" lines are not aider's output
    assert ep.usage.input_tokens == 2400 and ep.usage.output_tokens == 39


def test_text_only_reply_is_the_final_answer(tmp_path: Path) -> None:
    p = tmp_path / "h.md"
    p.write_text("# aider chat started at 2026-11-30 22:08:00\n\n> Model: openai/gpt-4.1 with diff\n\n"
                 "#### hello  \n\nAhoy there.\n\n> Tokens: 900 sent, 3 received.  \n")
    ep = parse_aider(p)
    assert ep.final_answer == "Ahoy there." and ep.usage.input_tokens == 900
    assert ep.model == "gpt-4.1"  # "Model:" when the weak model is the main one


def test_wire_finds_a_skill_aider_added_read_only() -> None:
    files = ("Here are some READ ONLY files\n\n/home/agent/.aider/skills/fix/SKILL.md\n```\n---\n"
             "name: fix-bugs-verified\ndescription: Fix bugs, then run the tests\n---\nbody\n```")
    body = {"messages": [{"role": "system", "content": "Act as an expert developer."},
                         {"role": "user", "content": files}, {"role": "assistant", "content": "Ok."},
                         {"role": "user", "content": "Fix median()"}], "stream": True}
    v = openai_chat.parse(body)
    assert v.skills == (("fix-bugs-verified", "Fix bugs, then run the tests"),)
    assert v.user_text == "Fix median()"


def test_follow_up_is_due_while_the_last_reply_ran_a_command() -> None:
    fu = SPEC.follow_up
    assert fu is not None and fu.text == CONTINUE_TEXT and fu.history == CHAT_HISTORY
    text = CONTINUED.read_text()
    assert not fu.due(text)  # the last reply is the final answer
    cut = text.rindex(f"#### {CONTINUE_TEXT}")
    assert fu.due(text[:cut])  # before the last continue: the tests had just run
    assert not fu.due(SESSION.read_text().split("Running ")[0])
    first = text[:text.index(f"#### {CONTINUE_TEXT}")]
    assert fu.due(first)  # the first reply's edit ran (it printed nothing)


def test_continue_messages_fold_into_one_turn() -> None:
    ep = parse_aider(CONTINUED)
    assert len(ep.turns) == 1, [t.user_text for t in ep.turns]
    t = ep.turns[0]
    assert t.user_text.startswith("median([1, 2, 3, 4]) in textstats.py") and CONTINUE_TEXT not in t.user_text
    cmds = [c.input["command"] for c in t.tool_calls]
    assert [c.name for c in t.tool_calls] == ["shell"] * 4
    assert cmds[1] == cmds[3] == "python3 -m pytest -q -k median" and cmds[0].startswith("eval ")
    assert t.final_text == "Fixed median(); `python3 -m pytest -q -k median` passes."
    assert ep.usage.output_tokens == 165 + 28 + 199 + 28 + 17


def _aider_request(*after: dict[str, str]) -> dict[str, object]:
    """A request as aider lays it out: system, the read-only skill, the human's message and
    what followed (replies, its shared output with the "Ok" it adds, continue messages)."""
    return {"model": "openai/gpt-4.1", "stream": True, "messages": [
        {"role": "system", "content": "Act as an expert software developer."},
        {"role": "user", "content": "Here are some READ ONLY files"},
        {"role": "assistant", "content": "Ok, I will use these files as references."},
        {"role": "user", "content": "Please fix median()."}, *after]}


def test_wire_reads_continue_messages_as_tool_rounds() -> None:
    reply = {"role": "assistant", "content": "Running the tests.\n\n```bash\npython3 -m pytest -q\n```"}
    go_on = {"role": "user", "content": CONTINUE_TEXT}
    shared = {"role": "user", "content": "Output from python3 -m pytest -q\n\x1b[1m1 failed\x1b[0m, 1 passed\r\n\n"
                                         "Output from echo hi\nhi\n\n"}
    ok = {"role": "assistant", "content": "Ok"}
    v = openai_chat.parse(_aider_request())
    assert (v.user_text, v.step, v.tool_results, v.human_messages) == ("Please fix median().", 0, (), 1)
    v = openai_chat.parse(_aider_request(reply, go_on))  # the command printed nothing
    assert (v.user_text, v.step, v.tool_results, v.human_messages) == ("Please fix median().", 1, ("",), 1)
    v = openai_chat.parse(_aider_request(reply, go_on, reply, shared, ok, go_on,
                                         {"role": "system", "content": "a reminder"}))
    assert (v.user_text, v.step, v.human_messages) == ("Please fix median().", 2, 1)
    assert v.tool_results == ("1 failed, 1 passed", "hi")  # one per command, headers dropped
    # an edit aider applied moves the chat before its files message ("Ok."-answered, as is
    # its "I updated the files."): the human's message is still found, the output too
    files = [{"role": "user", "content": "I have *added these files to the chat* so you can go ahead"},
             {"role": "assistant", "content": "Ok, any changes I propose will be to those files."}]
    updated = [{"role": "user", "content": "I updated the files."}, {"role": "assistant", "content": "Ok."}]
    v = openai_chat.parse(_aider_request(reply, *updated, *files, shared, ok, go_on))
    assert (v.user_text, v.step, v.human_messages) == ("Please fix median().", 1, 1)
    assert v.tool_results == ("1 failed, 1 passed", "hi")
    v = openai_chat.parse(_aider_request(reply, go_on, {"role": "assistant", "content": "Done."},
                                         {"role": "user", "content": "Now fix mean()."}))
    assert (v.user_text, v.step, v.tool_results, v.human_messages) == ("Now fix mean().", 0, (), 2)


def test_wire_hands_aider_a_multi_line_command_as_one_line(tmp_path: Path) -> None:
    """aider runs each line of a bash block alone: a heredoc script reaches it as one line
    that a POSIX shell runs to the same effect."""
    script = "python3 - <<'PY'\nimport pathlib\npathlib.Path('out.txt').write_text('it''s \\n ok')\nPY"
    line = openai_chat.one_line(script)
    assert "\n" not in line and openai_chat.one_line("ls -la") == "ls -la"
    for shell in ("sh", "bash"):
        (tmp_path / "out.txt").unlink(missing_ok=True)
        r = subprocess.run([shell, "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out.txt").read_text() == "its \n ok"  # python read its own escape


def test_a_commands_output_comes_from_the_request_log(tmp_path: Path) -> None:
    """The chat history says a command ran, not what it printed: the request log aider
    sends it in does, and the runner keeps that log beside the transcript."""
    assert SPEC.transcript_beside == (LLM_HISTORY,)
    assert shared_outputs(HARBOUR_LOG.read_text()) == [("sed -i 's/3/4/' notes.txt && echo Ahoy", "Ahoy")]
    # a command runs in aider's pseudo-terminal: CR LF line ends and pytest's colours go
    coloured = ("TO LLM 2026-12-01T05:00:00\n-------\nUSER Output from python3 -m pytest -q\n"
                "USER \x1b[1m1 failed\x1b[0m, \x1b[32m1 passed\x1b[0m\r\nUSER \n-------\nASSISTANT Ok\n")
    assert shared_outputs(coloured) == [("python3 -m pytest -q", "1 failed, 1 passed")]
    ep = parse_aider(HARBOUR, requests=HARBOUR_LOG)
    assert [(c.name, c.output) for c in ep.tool_calls] == [("edit", ""), ("shell", "Ahoy")]
    assert len(ep.turns) == 1 and ep.final_answer == "Four ships in the notes."
    # as the runner lays them out: the profile finds the log beside the transcript
    (tmp_path / "transcript.jsonl").write_bytes(HARBOUR.read_bytes())
    alone = AiderProfile().parse_transcript(tmp_path / "transcript.jsonl").tool_calls[1].output
    assert alone == "Added 2 lines of output to the chat."  # without the log: only that it was shared
    (tmp_path / "llm.history").write_bytes(HARBOUR_LOG.read_bytes())
    assert AiderProfile().parse_transcript(tmp_path / "transcript.jsonl").tool_calls[1].output == "Ahoy"
