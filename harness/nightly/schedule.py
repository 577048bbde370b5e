"""Run ``harness nightly`` every night: a systemd user timer, or a crontab entry.

Why the command is spelled out in full (absolute python, ``-m harness.cli``, absolute config,
``cd`` into the folder the user scheduled from, ``PATH`` carried over): cron and systemd start
jobs with a bare environment in the home folder, where neither a virtualenv's ``harness`` nor
``./runs`` nor a relative config would be found. Output goes to a log under the runs folder
(``<runs>/nightly/<project>.log``) because nobody reads cron's mail.

Why each entry carries a marker naming the project (``# harness-nightly project=P``, on the
crontab line itself and at the top of both unit files): ``unschedule`` and ``status`` find
exactly the harness's own entries and never touch another line of the user's crontab.

The builders are pure functions (tests read their output); :func:`install`, :func:`remove`
and :func:`scheduled` run ``crontab`` / ``systemctl --user`` with timeouts.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.errors import ConfigError

Backend = Literal["systemd", "cron"]
MARK = "# harness-nightly project="
UNIT_PREFIX = "harness-nightly-"
#: environment carried into the job besides PATH: where the Docker engine is (never secrets)
_CARRY = ("DOCKER_HOST", "DOCKER_CONTEXT", "HARNESS_RUNS_DIR")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_TIMEOUT_SEC = 30


@dataclass(frozen=True)
class NightCommand:
    """What the scheduler runs: ``argv`` in ``cwd`` with ``env``, output appended to ``log``."""

    project: str                  # the slug that names units and markers
    argv: tuple[str, ...]
    cwd: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """The command as one POSIX shell line (what a person would paste)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (f"cd {shlex.quote(str(self.cwd))} && mkdir -p {shlex.quote(str(self.log.parent))}"
                f" && {env + ' ' if env else ''}{shlex.join(self.argv)}"
                f" >> {shlex.quote(str(self.log))} 2>&1")


@dataclass(frozen=True)
class Scheduled:
    """One project the crontab or the unit folder schedules."""

    project: str
    at: str                       # HH:MM
    backend: Backend
    where: str                    # the crontab, or the timer unit's path


def parse_at(text: str) -> tuple[int, int]:
    """``HH:MM`` (24-hour) as (hour, minute); one line saying how to write it otherwise."""
    m = _AT.match(text.strip())
    if not m:
        raise ConfigError(f"--at {text!r} is not a time of day",
                          hint="use HH:MM on a 24-hour clock, e.g. --at 02:30")
    return int(m.group(1)), int(m.group(2))


def project_slug(project: str) -> str:
    """The project as unit names and markers hold it: a path (what ``nightly.yaml`` names and
    the night records keep) by its folder's name, a name as it is, other characters as ``-``."""
    text = project.strip()
    if "/" in text:
        text = Path(text).name
    slug = _SLUG.sub("-", text).strip("-.")
    if not slug:
        raise ConfigError(f"project name {project!r} has no letters or digits",
                          hint="pass --project NAME")
    return slug[:64]


def night_command(project: str, config: Path, runs_dir: Path | None, *, cwd: Path,
                  config_runs_dir: Path | None = None, python: str = sys.executable,
                  environ: dict[str, str] | None = None) -> NightCommand:
    """The exact ``harness nightly`` invocation the user would type, made absolute.

    The log goes under the runs folder the night will use: ``--runs-dir``, else the config's
    ``runs_dir`` (``config_runs_dir``, absolute), else ``$HARNESS_RUNS_DIR`` or ``./runs``."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd.resolve()
    config = (cwd / config.expanduser()).resolve()
    argv = [str(Path(python).absolute()), "-m", "harness.cli", "nightly", "--config", str(config)]
    if runs_dir is not None:
        runs_root = (cwd / runs_dir.expanduser()).resolve()
        argv += ["--runs-dir", str(runs_root)]
    elif config_runs_dir is not None:
        runs_root = config_runs_dir
    else:
        runs_root = (cwd / environ.get("HARNESS_RUNS_DIR", "runs")).resolve()
    slug = project_slug(project)
    env = {"PATH": environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
    env.update({k: environ[k] for k in _CARRY if environ.get(k)})
    return NightCommand(slug, tuple(argv), cwd, runs_root / "nightly" / f"{slug}.log", env)


# ------------------------------------------------------------------------------ cron


def cron_line(cmd: NightCommand, hour: int, minute: int) -> str:
    """One crontab line; ``%`` is cron's newline, so it is escaped."""
    return f"{minute} {hour} * * * {cmd.shell().replace('%', chr(92) + '%')} {MARK}{cmd.project}"


_OURS = re.compile(rf"^(\d{{1,2}}) (\d{{1,2}}) \* \* \* .* {re.escape(MARK)}(\S+)$")


def _ours(line: str) -> re.Match[str] | None:
    """A line ``cron_line`` wrote: minute, hour, daily, and the marker ending the line."""
    return _OURS.match(line.rstrip())


def _is_ours(line: str, project: str) -> bool:
    m = _ours(line)
    return m is not None and m.group(3) == project


def crontab_with(text: str, line: str, project: str) -> str:
    """``text`` with the project's entry replaced by ``line`` (appended when new)."""
    out = [ln for ln in text.splitlines() if not _is_ours(ln, project)]
    out.append(line)
    return "\n".join(out) + "\n"


def crontab_without(text: str, project: str) -> tuple[str, bool]:
    """``text`` without the project's entry; and whether there was one."""
    lines = text.splitlines()
    kept = [ln for ln in lines if not _is_ours(ln, project)]
    if len(kept) == len(lines):
        return text, False
    return ("\n".join(kept) + "\n") if kept else "", True


def crontab_entries(text: str) -> list[Scheduled]:
    """The harness's entries in a crontab's text."""
    out = []
    for ln in text.splitlines():
        m = _ours(ln)
        if m:
            out.append(Scheduled(m.group(3), f"{int(m.group(2)):02d}:{int(m.group(1)):02d}",
                                 "cron", "crontab"))
    return out


# ------------------------------------------------------------------------------ systemd


def _sd_arg(arg: str) -> str:
    """One ExecStart argument: ``%`` and ``$`` doubled (specifiers, variables), quoted when it
    holds a space or a quote."""
    s = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", s):
        s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def _sd_env(key: str, value: str) -> str:
    """One Environment= assignment: quoted, ``%`` doubled (no ``$`` expansion happens there)."""
    v = value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{key}={v}"'


def unit_name(project: str) -> str:
    return f"{UNIT_PREFIX}{project}"


def unit_files(cmd: NightCommand, hour: int, minute: int) -> dict[str, str]:
    """The service and timer units, by file name."""
    name = unit_name(cmd.project)
    head = (f"{MARK}{cmd.project}\n# written by `harness nightly schedule`; remove with "
            f"`harness nightly unschedule --project {cmd.project}`\n")
    env = "".join(f"Environment={_sd_env(k, v)}\n" for k, v in cmd.env.items())
    log, cwd = (str(p).replace("%", "%%") for p in (cmd.log, cmd.cwd))
    service = (
        f"{head}[Unit]\nDescription=harness nightly, project {cmd.project}\n\n"
        f"[Service]\nType=oneshot\nWorkingDirectory={cwd}\n{env}"
        f"ExecStartPre=/bin/mkdir -p {_sd_arg(str(cmd.log.parent))}\n"
        f"ExecStart={' '.join(_sd_arg(a) for a in cmd.argv)}\n"
        f"StandardOutput=append:{log}\nStandardError=append:{log}\n"
    )
    timer = (
        f"{head}[Unit]\nDescription=harness nightly at {hour:02d}:{minute:02d}, project "
        f"{cmd.project}\n\n[Timer]\nOnCalendar=*-*-* {hour:02d}:{minute:02d}:00\n"
        f"Persistent=true\nUnit={name}.service\n\n[Install]\nWantedBy=timers.target\n"
    )
    return {f"{name}.service": service, f"{name}.timer": timer}


def unit_dir(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ if environ is None else environ)
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "systemd" / "user"


def unit_entries(folder: Path) -> list[Scheduled]:
    """The harness's timers in a systemd user unit folder."""
    out = []
    for p in sorted(folder.glob(f"{UNIT_PREFIX}*.timer")) if folder.is_dir() else []:
        text = p.read_text(encoding="utf-8", errors="replace")
        mark = re.search(rf"^{re.escape(MARK)}(\S+)$", text, re.MULTILINE)
        when = re.search(r"^OnCalendar=\*-\*-\* (\d\d):(\d\d):00$", text, re.MULTILINE)
        if mark and when:
            out.append(Scheduled(mark.group(1), f"{when.group(1)}:{when.group(2)}",
                                 "systemd", str(p)))
    return out


# ------------------------------------------------------------------------------ running


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=_TIMEOUT_SEC, check=False)
    except FileNotFoundError as exc:
        raise ConfigError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"`{shlex.join(argv)}` did not answer within {_TIMEOUT_SEC} s") from exc


def systemd_works() -> bool:
    """Whether a systemd user manager answers (not in most containers, nor without a login)."""
    if shutil.which("systemctl") is None:
        return False
    try:
        return _run(["systemctl", "--user", "show-environment"]).returncode == 0
    except ConfigError:
        return False


def pick_backend(wanted: str) -> Backend:
    """``auto``: systemd where a user manager runs, else cron; one line when neither is here."""
    if wanted == "systemd" or (wanted == "auto" and systemd_works()):
        return "systemd"
    if wanted in ("cron", "auto"):
        if shutil.which("crontab") is None:
            raise ConfigError("neither a systemd user manager nor crontab is available here",
                              hint="install cron, or run the command shown by --print from "
                              "your own scheduler")
        return "cron"
    raise ConfigError(f"--backend {wanted!r}: use auto, systemd or cron")


def read_crontab() -> str:
    res = _run(["crontab", "-l"])
    if res.returncode != 0:
        if "no crontab" in res.stderr.lower():
            return ""
        raise ConfigError(f"crontab -l failed: {res.stderr.strip() or res.returncode}")
    return res.stdout


def _write_crontab(text: str) -> None:
    res = _run(["crontab", "-"], stdin=text)
    if res.returncode != 0:
        raise ConfigError(f"crontab refused the new table: {res.stderr.strip()}",
                          hint="nothing was changed; see `crontab -l`")


def _systemctl(*args: str, check: bool = True) -> None:
    res = _run(["systemctl", "--user", *args])
    if check and res.returncode != 0:
        raise ConfigError(f"systemctl --user {' '.join(args)} failed: {res.stderr.strip()}")


def install(cmd: NightCommand, hour: int, minute: int, backend: Backend) -> str:
    """Install (or replace) the project's entry; where it went, for the user."""
    cmd.log.parent.mkdir(parents=True, exist_ok=True)
    if backend == "cron":
        _write_crontab(crontab_with(read_crontab(), cron_line(cmd, hour, minute), cmd.project))
        return "the crontab (see `crontab -l`)"
    folder = unit_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in unit_files(cmd, hour, minute).items():
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
    _systemctl("daemon-reload")
    _systemctl("enable", "--now", f"{unit_name(cmd.project)}.timer")
    return f"{folder / unit_name(cmd.project)}.timer (see `systemctl --user list-timers`)"


def remove(project: str) -> list[str]:
    """Remove the project's entries from the crontab and the unit folder; what was removed."""
    project = project_slug(project)
    gone = []
    folder = unit_dir()
    files = [folder / f"{unit_name(project)}.{kind}" for kind in ("timer", "service")]
    if any(f.exists() for f in files):
        if systemd_works():
            _systemctl("disable", "--now", f"{unit_name(project)}.timer", check=False)
        for f in files:
            f.unlink(missing_ok=True)
        if systemd_works():
            _systemctl("daemon-reload", check=False)
        gone.append(f"systemd timer {unit_name(project)}")
    if shutil.which("crontab") is not None:
        text, found = crontab_without(read_crontab(), project)
        if found:
            _write_crontab(text)
            gone.append("crontab entry")
    return gone


def scheduled() -> list[Scheduled]:
    """Every project the harness scheduled here, from the unit folder and the crontab."""
    out = unit_entries(unit_dir())
    if shutil.which("crontab") is not None:
        out += crontab_entries(read_crontab())
    return out
