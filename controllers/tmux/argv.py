"""Pure builders for tmux command lines, and the checks on text before it is sent.

Why pure functions: every tmux command the controller runs is built here as an argv list
(``list[str]``) that unit tests read without a tmux server. The transports only run them:
transport (a) appends the list to ``tmux -u -S <sock>``; transport (b) turns the same list
into one line of tmux's command language with :func:`control_line`.

User text always follows ``--`` so a leading ``-`` is text, never an option.
"""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass

from harness.errors import SendKeysError

#: keys ``send_key`` accepts by name (tmux key names); anything else is rejected early
KEY_NAMES = frozenset(
    {
        "Enter", "Escape", "Tab", "BTab", "Space", "BSpace", "Up", "Down", "Left", "Right",
        "Home", "End", "PageUp", "PageDown", "PPage", "NPage", "DC", "IC",
        *(f"F{i}" for i in range(1, 13)),
        *(f"C-{c}" for c in "abcdefghijklmnopqrstuvwxyz"),
        *(f"M-{c}" for c in "abcdefghijklmnopqrstuvwxyz"),
    }
)

#: how much literal text one send-keys command carries (keeps control lines short)
SEND_CHUNK_CHARS = 512
#: how much text one set-buffer command carries when a paste is assembled
BUFFER_CHUNK_CHARS = 8192


@dataclass(frozen=True)
class ServerOptions:
    """Options the server gets before its first pane exists (they shape that pane).

    ``history-limit`` applies only to panes created after it is set, so it goes in the same
    command sequence as ``new-session``, after ``start-server``. ``window-size manual`` is the
    exception: tmux 3.3a's server dies when it is set before any session exists (seen on this
    machine), so it is set right after ``new-session`` in the same sequence, before any
    client attaches; ``new-session -x/-y`` has already fixed the size by then. It is set on
    the pane's window, not globally: a global one makes 3.3a die on any later new window.
    """

    history_limit: int = 100_000
    default_terminal: str = "screen-256color"
    escape_time_ms: int = 0


def tmux_prefix(tmux_bin: str, socket_path: str) -> list[str]:
    """``tmux -u -S <sock>``: ``-u`` forces UTF-8 whatever the caller's locale says."""
    return [tmux_bin, "-u", "-S", socket_path]


#: a hidden second session whose window name is the last signal fired on this server
SIGNAL_SESSION = "harness-signal"
#: the notification a control client gets when the signal board's window is renamed
SIGNAL_NOTIFICATION = "%unlinked-window-renamed"


def start_server_sequence(
    session: str,
    command: list[str],
    *,
    width: int,
    height: int,
    cwd: str | None,
    env: dict[str, str] | None,
    options: ServerOptions | None = None,
) -> list[str]:
    """One tmux invocation (``-f /dev/null`` plus ``;``-separated commands) that starts the
    server, sets every option, creates the session and its single pane, and prints the
    pane's id (one process in all: each costs a ``docker exec`` when tmux is in a container)."""
    if width < 2 or height < 2:
        raise ValueError(f"window size {width}x{height} is too small")
    return join_sequence([
        *server_options(options),
        new_session(session, command, width=width, height=height, cwd=cwd, env=env),
        # the signal board: its window is renamed to fire a channel (see ``fire_signal``)
        ["new-session", "-d", "-s", SIGNAL_SESSION, "-x", "20", "-y", "2", "--", *SIGNAL_BOARD],
        # on the pane's window only: with a global ``window-size manual`` tmux 3.3a's server
        # dies on the next new-window / new-session (seen here; libtmux users make both)
        ["set-option", "-w", "-t", f"={session}:", "window-size", "manual"],
        ["display-message", "-p", "-t", session, "#{pane_id}"],
    ])


#: what the signal board's pane runs (nothing: it is only a window to rename)
SIGNAL_BOARD = ("sleep", "2147483647")


def server_options(options: ServerOptions | None = None) -> list[list[str]]:
    """Start the server and set every option a pane must be born with (before any session:
    ``exit-empty off`` keeps the server up with none)."""
    options = options or ServerOptions()
    return [
        ["start-server"],
        ["set-option", "-g", "history-limit", str(options.history_limit)],
        ["set-option", "-g", "status", "off"],
        ["set-option", "-g", "default-terminal", options.default_terminal],
        ["set-option", "-g", "destroy-unattached", "off"],
        ["set-option", "-s", "escape-time", str(options.escape_time_ms)],
        ["set-option", "-s", "exit-empty", "off"],
        ["set-option", "-wg", "remain-on-exit", "on"],
        # no "Pane is dead" line: it scrolls the last screen (status comes from display)
        ["set-option", "-wg", "remain-on-exit-format", ""],
        ["set-option", "-wg", "aggressive-resize", "off"],
        ["set-option", "-wg", "allow-rename", "off"],
        ["set-option", "-wg", "automatic-rename", "off"],
    ]


def join_sequence(seq: list[list[str]]) -> list[str]:
    """Commands as one tmux invocation: ``-f /dev/null`` (no user config) and ``;`` between."""
    out: list[str] = ["-f", "/dev/null"]
    for i, cmd in enumerate(seq):
        if i:
            out.append(";")
        out += cmd
    return out


def new_session(
    session: str,
    command: list[str],
    *,
    width: int,
    height: int,
    cwd: str | None,
    env: dict[str, str] | None,
) -> list[str]:
    """A detached session whose pane runs ``command`` (several words: exec'd directly; one
    word: run by ``sh -c`` as tmux does)."""
    argv = ["new-session", "-d", "-s", session, "-x", str(width), "-y", str(height)]
    if cwd:
        argv += ["-c", cwd]
    for key, value in (env or {}).items():
        if not key or "=" in key:
            raise ValueError(f"bad environment variable name {key!r}")
        argv += ["-e", f"{key}={value}"]
    if command:
        argv += ["--", *command]
    return argv


def check_literal(text: str) -> None:
    """Refuse text that send-keys cannot deliver exactly, naming the offending part.

    Newlines belong to ``paste`` (a pasted newline is not a keypress); NUL cannot cross
    argv; lone surrogates are not text; other C0 controls are keys (``send_key``). Tab
    and Escape are allowed: both are single keys tmux sends as bytes.
    """
    for i, ch in enumerate(text):
        code = ord(ch)
        bad = None
        if ch in "\r\n":
            bad = "a newline (use paste() for multi-line text)"
        elif code == 0:
            bad = "a NUL byte"
        elif 0xD800 <= code <= 0xDFFF:
            bad = "a lone surrogate (not valid Unicode text)"
        elif (code < 0x20 and ch not in "\t\x1b") or code == 0x7F:
            bad = f"the control character {unicodedata.name(ch, hex(code))!r} (use send_key)"
        if bad:
            snippet = text[max(0, i - 10) : i + 10]
            raise SendKeysError(f"cannot send {bad} at offset {i} in {snippet!r}")


def check_paste(text: str) -> None:
    """A paste may hold newlines and tabs, but not NUL or lone surrogates."""
    for i, ch in enumerate(text):
        if ch == "\0" or 0xD800 <= ord(ch) <= 0xDFFF:
            what = "a NUL byte" if ch == "\0" else "a lone surrogate"
            raise SendKeysError(f"cannot paste {what} at offset {i}")


def chunks(text: str, size: int) -> list[str]:
    """Split text into pieces of at most ``size`` characters (never inside a character)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def send_literal(target: str, text: str) -> list[str]:
    return ["send-keys", "-t", target, "-l", "--", text]


def send_key(target: str, name: str) -> list[str]:
    if name not in KEY_NAMES:
        raise SendKeysError(f"unknown key name {name!r}", hint="e.g. Enter, Escape, C-c, Up, BTab")
    return ["send-keys", "-t", target, name]


def set_buffer(buffer: str, text: str, *, append: bool) -> list[str]:
    return ["set-buffer", *(["-a"] if append else []), "-b", buffer, "--", text]


def paste_buffer(target: str, buffer: str) -> list[str]:
    """``-p``: bracketed paste when the app asked for it; ``-d``: delete the buffer after;
    ``-r``: keep LF as LF. Bracketed paste lets a TUI take newlines as text, not Enter."""
    return ["paste-buffer", "-p", "-d", "-r", "-b", buffer, "-t", target]


def delete_buffer(buffer: str) -> list[str]:
    return ["delete-buffer", "-b", buffer]


def capture(target: str, *, history: bool, join_wrapped: bool, escapes: bool = False) -> list[str]:
    argv = ["capture-pane", "-p", "-t", target]
    if history:
        argv += ["-S", "-", "-E", "-"]
    if join_wrapped:
        argv.append("-J")
    if escapes:
        argv.append("-e")
    return argv


#: fields read by ``display`` in one round trip (tab-separated)
PANE_FIELDS = (
    "pane_dead", "pane_dead_status", "pane_dead_signal", "pane_pid",
    "cursor_x", "cursor_y", "pane_width", "pane_height", "history_size", "pid",
)


def display(target: str, fields: tuple[str, ...] = PANE_FIELDS) -> list[str]:
    return ["display-message", "-p", "-t", target, "\t".join(f"#{{{f}}}" for f in fields)]


def wait_for(channel: str, *, signal: bool = False) -> list[str]:
    return ["wait-for", *(["-S"] if signal else []), channel]


def fire_signal(channel: str) -> list[str]:
    """Fire ``channel`` both ways in one tmux process: rename the signal board's window
    (control clients are told at once by ``%unlinked-window-renamed``, no process waits)
    and ``wait-for -S`` (for a waiter without a control channel; tmux latches it). The
    wait-for goes first: tmux drops the rest of a sequence after a failed command."""
    return [*wait_for(channel, signal=True), ";", "rename-window", "-t", f"={SIGNAL_SESSION}:", channel]


def signal_board_name() -> list[str]:
    """Reads the last channel fired (after a control channel reconnected, say)."""
    return ["display-message", "-p", "-t", f"={SIGNAL_SESSION}:", "#{window_name}"]


def resize(target: str, width: int, height: int) -> list[str]:
    return ["resize-window", "-t", target, "-x", str(width), "-y", str(height)]


def control_attach(session: str, *, no_output: bool = False) -> list[str]:
    """The control client's own arguments: attach to the session in control mode;
    ``no_output`` sets the client flag at attach (no ``%output`` until turned on)."""
    return ["-C", "attach-session", *(["-f", "no-output"] if no_output else []), "-t", session]


def _quote_word(word: str) -> str:
    """One word in tmux's command language: double quotes with every special escaped.

    Inside double quotes tmux expands ``$VAR`` and backslash escapes, so ``\\``, ``"`` and
    ``$`` are escaped, and control characters (newline included: a control line ends at a
    newline) become three-digit octal escapes. Everything else, UTF-8 included, is literal.
    """
    out = ['"']
    for ch in word:
        if ch in '\\"$':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def control_line(argv: list[str]) -> str:
    """The argv as one control-mode input line (the command name stays bare)."""
    if not argv:
        raise ValueError("empty tmux command")
    return " ".join([argv[0], *(_quote_word(w) for w in argv[1:])])


def shell_join(argv: list[str]) -> str:
    """For messages and ``attach_command`` strings a person pastes into a shell."""
    return shlex.join(argv)
