"""Scheduling the nightly: the crontab line and the systemd units (known answers), crontab
edits that never touch another line, and the admin commands on their own typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.nightly_admin_cmd import app
from harness.errors import ConfigError
from harness.nightly import schedule as s
from harness.nightly.records import NightRecord, NightStore, Verdict

ENV = {"PATH": "/opt/venv/bin:/usr/bin", "DOCKER_HOST": "unix:///run/docker.sock",
       "ANTHROPIC_API_KEY": "sk-must-not-be-carried"}


def cmd() -> s.NightCommand:
    return s.night_command("demo proj", Path("conf/nightly.yaml"), Path("runs 100%"),
                           cwd=Path("/srv/my proj"), python="/opt/venv/bin/python", environ=ENV)


@pytest.mark.parametrize("text,want", [("02:30", (2, 30)), ("2:05", (2, 5)), ("23:59", (23, 59)),
                                       ("00:00", (0, 0)), (" 7:00 ", (7, 0))])
def test_at_parses_a_24_hour_time(text: str, want: tuple[int, int]) -> None:
    assert s.parse_at(text) == want


@pytest.mark.parametrize("text", ["24:00", "12:60", "1230", "12:3", "noon", "", "-1:00",
                                  "12:30:00", "١٢:٣٠"])
def test_a_bad_at_is_one_line_saying_how_to_write_it(text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        s.parse_at(text)
    assert exc.value.one_line() == (f"--at {text!r} is not a time of day (use HH:MM on a "
                                    "24-hour clock, e.g. --at 02:30)")


def test_the_command_is_the_users_own_made_absolute() -> None:
    c = cmd()
    assert c.project == "demo-proj"
    assert c.argv == ("/opt/venv/bin/python", "-m", "harness.cli", "nightly", "--config",
                      "/srv/my proj/conf/nightly.yaml", "--runs-dir", "/srv/my proj/runs 100%")
    assert c.cwd == Path("/srv/my proj")
    assert c.log == Path("/srv/my proj/runs 100%/nightly/demo-proj.log")
    assert c.env == {"PATH": "/opt/venv/bin:/usr/bin", "DOCKER_HOST": "unix:///run/docker.sock"}
    # without --runs-dir: no flag, and the log goes under the default runs folder
    d = s.night_command("p", Path("/etc/n.yaml"), None, cwd=Path("/w"), python="/py",
                        environ={"PATH": "/bin"})
    assert d.argv == ("/py", "-m", "harness.cli", "nightly", "--config", "/etc/n.yaml")
    assert d.log == Path("/w/runs/nightly/p.log") and d.env == {"PATH": "/bin"}


def test_the_crontab_line() -> None:
    assert s.cron_line(cmd(), 2, 30) == (
        "30 2 * * * cd '/srv/my proj' && mkdir -p '/srv/my proj/runs 100\\%/nightly' && "
        "PATH=/opt/venv/bin:/usr/bin DOCKER_HOST=unix:///run/docker.sock /opt/venv/bin/python "
        "-m harness.cli nightly --config '/srv/my proj/conf/nightly.yaml' --runs-dir "
        "'/srv/my proj/runs 100\\%' >> '/srv/my proj/runs 100\\%/nightly/demo-proj.log' 2>&1 "
        "# harness-nightly project=demo-proj")


def test_the_systemd_units() -> None:
    units = s.unit_files(cmd(), 2, 30)
    head = ("# harness-nightly project=demo-proj\n# written by `harness nightly schedule`; "
            "remove with `harness nightly unschedule --project demo-proj`\n")
    assert units == {
        "harness-nightly-demo-proj.service": head + (
            "[Unit]\nDescription=harness nightly, project demo-proj\n\n"
            "[Service]\nType=oneshot\nWorkingDirectory=/srv/my proj\n"
            'Environment="PATH=/opt/venv/bin:/usr/bin"\n'
            'Environment="DOCKER_HOST=unix:///run/docker.sock"\n'
            'ExecStartPre=/bin/mkdir -p "/srv/my proj/runs 100%%/nightly"\n'
            "ExecStart=/opt/venv/bin/python -m harness.cli nightly --config "
            '"/srv/my proj/conf/nightly.yaml" --runs-dir "/srv/my proj/runs 100%%"\n'
            "StandardOutput=append:/srv/my proj/runs 100%%/nightly/demo-proj.log\n"
            "StandardError=append:/srv/my proj/runs 100%%/nightly/demo-proj.log\n"),
        "harness-nightly-demo-proj.timer": head + (
            "[Unit]\nDescription=harness nightly at 02:30, project demo-proj\n\n"
            "[Timer]\nOnCalendar=*-*-* 02:30:00\nPersistent=true\n"
            "Unit=harness-nightly-demo-proj.service\n\n[Install]\nWantedBy=timers.target\n"),
    }


def test_unit_files_are_found_again(tmp_path: Path) -> None:
    for name, text in s.unit_files(cmd(), 4, 5).items():
        (tmp_path / name).write_text(text)
    (tmp_path / "someone-else.timer").write_text("[Timer]\nOnCalendar=*-*-* 01:00:00\n")
    assert s.unit_entries(tmp_path) == [
        s.Scheduled("demo-proj", "04:05", "systemd",
                    str(tmp_path / "harness-nightly-demo-proj.timer"))]
    assert s.unit_entries(tmp_path / "absent") == []


OTHERS = ("# m h dom mon dow command\nMAILTO=me@example.invalid\n"
          "0 * * * * /usr/bin/backup --all\n"
          "# 15 3 * * * old-job  # harness-nightly project=demo-proj (commented out by hand)\n"
          "*/5 * * * * echo '# harness-nightly project=demo-proj-2'\n")


def test_crontab_edits_touch_only_the_projects_own_line() -> None:
    line = s.cron_line(cmd(), 2, 30)
    text = s.crontab_with(OTHERS, line, "demo-proj")
    assert text == OTHERS + line + "\n"
    again = s.crontab_with(text, s.cron_line(cmd(), 3, 0), "demo-proj")  # replaced, not added
    assert again == OTHERS + s.cron_line(cmd(), 3, 0) + "\n"
    other = s.night_command("other", Path("/o.yaml"), None, cwd=Path("/w"), python="/py",
                            environ={"PATH": "/bin"})
    both = s.crontab_with(again, s.cron_line(other, 1, 0), "other")
    assert [(e.project, e.at) for e in s.crontab_entries(both)] == [
        ("demo-proj", "03:00"), ("other", "01:00")]
    removed, found = s.crontab_without(both, "demo-proj")
    assert found and removed == OTHERS + s.cron_line(other, 1, 0) + "\n"
    assert s.crontab_without(removed, "demo-proj") == (removed, False)
    last, found = s.crontab_without(s.crontab_with("", line, "demo-proj"), "demo-proj")
    assert found and last == ""


def test_schedule_print_shows_the_entry_and_installs_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text("project: shop\nagents: [claude]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = CliRunner().invoke(app, ["schedule", "--at", "01:15", "--print", "--backend", "cron",
                                 "--runs-dir", "r"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == (f"# runs every night at 01:15, output appended to "
                        f"{tmp_path / 'r' / 'nightly' / 'shop.log'}")
    assert lines[1].startswith("15 1 * * * cd ") and lines[1].endswith(
        f"--config {cfg} --runs-dir {tmp_path / 'r'} >> {tmp_path / 'r/nightly/shop.log'} 2>&1 "
        "# harness-nightly project=shop")
    r = CliRunner().invoke(app, ["schedule", "--at", "01:15", "--print", "--backend", "systemd",
                                 "--project", "other"])
    assert r.exit_code == 0, r.output
    unit_dir = tmp_path / "home" / ".config" / "systemd" / "user"
    assert f"# --- {unit_dir / 'harness-nightly-other.timer'}" in r.output
    assert "OnCalendar=*-*-* 01:15:00" in r.output
    assert not (tmp_path / "home").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,msg", [
    (["--at", "25:00"], "error: --at '25:00' is not a time of day (use HH:MM on a 24-hour "
                        "clock, e.g. --at 02:30)"),
    (["--at", "02:00", "--config", "missing.yaml"], "error: nightly config {tmp}/missing.yaml "
     "does not exist (pass --config with the file `harness nightly` should run)"),
    (["--at", "02:00", "--config", "noproject.yaml"], "error: {tmp}/noproject.yaml names no "
     "`project` (pass --project NAME)"),
    (["--at", "02:00", "--config", "bad.yaml"], "error: the nightly config {tmp}/bad.yaml is not "
     "YAML: while parsing a flow sequence"),
])
def test_schedule_bad_input_is_one_line(args: list[str], msg: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "noproject.yaml").write_text("agents: [claude]\n")
    (tmp_path / "bad.yaml").write_text("agents: [claude\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["schedule", *args, "--print", "--backend", "cron"])
    assert r.exit_code == 2
    assert r.output.strip() == msg.format(tmp=tmp_path)


def test_status_lists_scheduled_projects_and_last_nights(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no crontab, no systemctl here
    units = tmp_path / "cfg" / "systemd" / "user"
    units.mkdir(parents=True)
    for name, text in s.unit_files(cmd(), 2, 30).items():
        (units / name).write_text(text)
    with NightStore(tmp_path / "runs" / "harness.db") as store:
        verdicts: list[Verdict] = ["accept", "reject", "nothing_to_do"]
        for i, verdict in enumerate(verdicts):
            store.save(NightRecord(night_id=f"n{i}", project="demo-proj",
                                   started_at=86400.0 * (i + 1), status="done",
                                   verdict=verdict, decision=f"rule {i}"))
    r = CliRunner().invoke(app, ["status", "--runs-dir", str(tmp_path / "runs"), "--last", "2"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        f"scheduled: demo-proj at 02:30 (systemd: {units / 'harness-nightly-demo-proj.timer'})",
        "demo-proj: last 2 night(s)",
        "  1970-01-04 00:00 UTC  n2  nothing_to_do  — rule 2",
        "  1970-01-03 00:00 UTC  n1  reject  — rule 1",
    ]
    r = CliRunner().invoke(app, ["status", "--runs-dir", str(tmp_path / "runs"), "--json"])
    data = json.loads(r.output)
    assert data["scheduled"][0]["project"] == "demo-proj"
    assert [n["verdict"] for n in data["nights"]["demo-proj"]] == [
        "accept", "reject", "nothing_to_do"]


def test_unschedule_without_crontab_or_units_says_so(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["unschedule", "--project", "shop"])
    assert r.exit_code == 2
    assert r.output.strip() == ("error: project shop is not scheduled here "
                                "(see `harness nightly status`)")
    r = CliRunner().invoke(app, ["schedule", "--at", "02:00", "--project", "shop",
                                 "--config", "n.yaml"])
    assert r.exit_code == 2  # the config must exist before anything is installed
    (tmp_path / "n.yaml").write_text("project: shop\n")
    r = CliRunner().invoke(app, ["schedule", "--at", "02:00", "--config", "n.yaml"])
    assert r.exit_code == 2
    assert r.output.strip() == ("error: neither a systemd user manager nor crontab is available "
                                "here (install cron, or run the command shown by --print from "
                                "your own scheduler)")


def test_the_project_is_the_configs_folder_as_the_night_records_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """nightly.yaml names the project as a folder relative to itself; the night records it
    absolute; units and markers take the folder's name."""
    from harness.cli.nightly_admin_cmd import config_project, match_project

    (tmp_path / "conf").mkdir()
    cfg = tmp_path / "conf" / "nightly.yaml"
    cfg.write_text("project: ../repos/my shop\nruns_dir: ../night-runs\n")
    assert config_project(cfg) == str(tmp_path / "repos" / "my shop")
    assert s.project_slug(str(tmp_path / "repos" / "my shop")) == "my-shop"
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["schedule", "--at", "3:07", "--config", "conf/nightly.yaml",
                                 "--print", "--backend", "cron"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[1].endswith(  # the night reads runs_dir itself; the log
        f"--config {cfg} >> {tmp_path / 'night-runs/nightly/my-shop.log'} 2>&1 "  # goes there
        "# harness-nightly project=my-shop")
    known = ["/srv/a/shop", "/srv/b/shop", "/srv/c/tools"]
    assert match_project("/srv/c/tools", known) == "/srv/c/tools"
    assert match_project("tools", known) == "/srv/c/tools"
    assert match_project("shop", known) is None  # two folders of that name: say which
    assert match_project("nothing", known) is None
