"""The crontab entry really fires: cron (Debian's, installed in a throwaway container from
harness/base) runs the scheduled `harness nightly` command at the minute `schedule --at` named.

The container runs this checkout's harness with the host's interpreter and virtualenv, mounted
read-only at the same paths, so the command cron runs is byte for byte the one `schedule`
wrote (absolute python, `cd` into the checkout, absolute config, log under the runs folder).
Everything it writes stays in the container's /tmp; the container goes with the test.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from controllers.sandbox.owner import owner_labels

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NIGHT = "/tmp/night"
USERS_OWN = "MAILTO=\"\"\n# the user's own jobs\n17 3 * * * /usr/bin/true --backup\n"
#: a night with no session to harvest (empty agent homes): it ends `nothing_to_do`, recorded
CONFIG = ("project: proj\ntargets: [.claude/skills/calc]\n"
          "model: {mode: scripted, script: script.yaml}\n"
          "sources: {claude_home: claude-home, codex_home: codex-home}\nadopt: stage\n")
SETUP = (f"mkdir -p {NIGHT}/proj/.claude/skills/calc {NIGHT}/claude-home {NIGHT}/codex-home && "
         f"printf -- '---\\nname: calc\\ndescription: calc notes\\n---\\n# Calc\\n' "
         f"> {NIGHT}/proj/.claude/skills/calc/SKILL.md && "
         f"printf 'version: 1\\nrules: []\\n' > {NIGHT}/script.yaml && "
         f"printf %s {shlex.quote(CONFIG)} > {NIGHT}/nightly.yaml")
#: the night's row in the store, once the night has finished (exit 0 when it is there)
NIGHT_ROW = (f"import sqlite3, sys; rows = sqlite3.connect('{NIGHT}/runs/harness.db').execute("
             "\"SELECT project, status FROM nights\").fetchall(); print(rows); "
             f"sys.exit(0 if rows == [('{NIGHT}/proj', 'nothing_to_do')] else 1)")


def sh(ctr: Any, script: str, timeout_sec: int = 120) -> str:
    """Run a shell script as root in the container, bounded by ``timeout``; its output."""
    code, out = ctr.exec_run(["timeout", str(timeout_sec), "sh", "-c", script], user="root",
                             workdir=str(REPO))
    text = out.decode(errors="replace")
    assert code == 0, f"{script!r} exited {code}:\n{text[-3000:]}"
    return text


def admin(*args: str) -> str:
    """The admin commands' typer app, run by the mounted interpreter in the checkout."""
    call = "from harness.cli.nightly_admin_cmd import app; app(prog_name='harness nightly')"
    return shlex.join([sys.executable, "-c", call, *args])


def mounts() -> dict[str, dict[str, str]]:
    """The checkout, the virtualenv and (unless it is the image's own /usr) the interpreter
    the virtualenv was made from, each read-only at its own path."""
    paths = {str(REPO), sys.prefix}
    if not sys.base_prefix.startswith("/usr"):
        paths.add(sys.base_prefix)
    return {p: {"bind": p, "mode": "ro"} for p in paths}


@pytest.fixture
def box(docker_client: Any, base_image: str) -> Any:
    ctr = docker_client.containers.run(
        base_image, ["sleep", "900"], user="root", detach=True, volumes=mounts(),
        labels=owner_labels("test-nightly-cron", kind="test"), network_mode="bridge")
    try:
        yield ctr
    finally:
        try:
            ctr.remove(force=True)
        except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
            pass


def _minute_ahead(ctr: Any) -> str:
    """HH:MM of the next minute at least 15 s away on the container's clock."""
    hour, minute, sec = (int(x) for x in sh(ctr, "date +%H:%M:%S").strip().split(":"))
    total = (hour * 60 + minute + (1 if sec < 45 else 2)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _of_day(hh_mm: str) -> int:
    """Minutes since midnight of an HH:MM."""
    hour, minute = hh_mm.strip().split(":")
    return int(hour) * 60 + int(minute)


def test_the_crontab_entry_runs_the_night_at_its_minute(box: Any) -> None:
    sh(box, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "--no-install-recommends cron >/dev/null", timeout_sec=600)
    # cron notices a changed crontab by the spool folder's mtime, in whole seconds: an entry
    # written in the same second as the daemon's first read is never seen (a user's cron has
    # run for days; here it has just started), so the schedule waits for the next seconds
    sh(box, f"printf %s {shlex.quote(USERS_OWN)} | crontab - && {SETUP} && cron && sleep 3")
    # the next minute that is at least 15 s away on the container's clock (cron's clock); on a
    # loaded machine `schedule` itself can take that long, so it is written again for a later
    # minute whenever the one it wrote had already begun when the entry was in place
    log = f"{NIGHT}/runs/nightly/proj.log"
    for _ in range(5):
        at = _minute_ahead(box)
        out = sh(box, admin("schedule", "--at", at, "--config", f"{NIGHT}/nightly.yaml",
                            "--runs-dir", f"{NIGHT}/runs", "--backend", "cron"))
        if 0 < (_of_day(at) - _of_day(sh(box, "date +%H:%M"))) % (24 * 60) <= 2:
            break  # the minute is still ahead
    else:
        pytest.fail("`harness nightly schedule` never finished before the minute it was given")
    assert out.strip() == (f"scheduled project proj every night at {at} in the crontab "
                           f"(see `crontab -l`); log: {log}")
    table = sh(box, "crontab -l")
    assert table.startswith(USERS_OWN)  # the user's lines, untouched and first
    [ours] = table[len(USERS_OWN):].splitlines()
    assert ours.startswith(f"{int(at[3:])} {int(at[:2])} * * * cd {REPO} && ")
    assert f"{sys.executable} -m harness.cli nightly --config {NIGHT}/nightly.yaml " \
           f"--runs-dir {NIGHT}/runs >> {log} 2>&1 # harness-nightly project=proj" in ours
    assert sh(box, admin("status", "--runs-dir", f"{NIGHT}/runs")).splitlines()[0] == (
        f"scheduled: proj at {at} (cron: crontab)")

    # cron fires it: the log appears, written by the harness CLI cron started (bounded wait
    # inside the container: at most the two minutes ahead plus cron's own minute)
    code, out = box.exec_run(["timeout", "200", "sh", "-c", f"until [ -s {log} ]; do sleep 1; done"],
                             user="root")
    if code != 0:  # what cron and the night left, for the failure's message
        _, seen = box.exec_run(["sh", "-c", f"date; crontab -l; ps -ef; ls -la --full-time /var/spool/cron/crontabs {NIGHT}/runs {NIGHT}/runs/nightly; "
                                            f"cat {log}"], user="root")
        pytest.fail(f"cron did not run the night at {at}:\n{seen.decode(errors='replace')[-4000:]}")
    # the night ran to its end: no session to harvest, recorded as nothing_to_do
    sh(box, f"until {shlex.join([sys.executable, '-c', NIGHT_ROW])}; do sleep 1; done",
       timeout_sec=300)

    out = sh(box, admin("unschedule", "--project", "proj"))
    assert out.strip() == "unscheduled project proj: removed crontab entry"
    assert sh(box, "crontab -l") == USERS_OWN  # exactly the user's own table again
