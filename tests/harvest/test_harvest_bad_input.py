"""Bad input to ``harness harvest``: each problem is reported with its file and line and
skipped; nothing crashes and no session is silently lost (found = kept + skipped +
unchanged). The broken files are the real CLIs' files, damaged the way real ones get
damaged (a kill mid-write, a newer CLI, a stray line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.harvest import HarvestOptions, HarvestStore, harvest
from tests.harvest.conftest import harvest_cli
from tests.harvest.realcli import PROMPT_FIX, PROMPT_SHOW, Generated, Layout

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]


def _opts(lay: Layout, **kw: object) -> HarvestOptions:
    return HarvestOptions(claude_home=lay.claude_home, codex_home=lay.codex_home, environ={}, **kw)  # type: ignore[arg-type]


def _session_with(home: Path, prompt: str) -> Path:
    return next(p for p in home.rglob("*.jsonl") if prompt[:30] in p.read_text())


def _damage(path: Path) -> dict[str, int]:
    """Insert a garbage line, an unknown line type and a line from a newer CLI (unknown
    fields), and cut the file mid-line at the end; returns where each went (1-based)."""
    lines = path.read_text().splitlines()
    newer = json.loads(lines[-1])
    newer["fieldFromTheFuture"] = {"nested": [1, 2, 3]}
    newer["version"] = "99.0.0"
    lines.insert(3, "{this is not json")
    lines.insert(
        5, json.dumps({"type": "hologram", "timestamp": "2026-11-30T00:00:00Z", "payload": {}})
    )
    lines.append(json.dumps(newer))
    cut = lines[-2][: len(lines[-2]) // 2]
    lines[-2] = cut  # a line cut by a kill, then the CLI went on writing
    path.write_text("\n".join(lines) + "\n" + lines[-2][:40])
    return {"garbage": 4, "unknown": 6, "cut_mid": len(lines) - 1, "truncated_tail": len(lines) + 1}


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_damaged_session_files(cli_sessions: Generated, tmp_path: Path, agent: str) -> None:
    lay = cli_sessions.install(tmp_path)
    home = lay.claude_home if agent == "claude" else lay.codex_home
    f = _session_with(home, PROMPT_FIX)
    where = _damage(f)
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(_opts(lay, source=agent), store)
    assert (rep.found, rep.kept, rep.skipped) == (2, 2, 0)
    mine = {p.line: p.what for p in rep.problems if p.file == str(f)}
    assert mine.get(where["garbage"], "").startswith("not JSON"), mine
    assert "unknown line type 'hologram'" in mine.get(where["unknown"], ""), mine
    assert mine.get(where["cut_mid"], "").startswith("not JSON"), mine
    assert mine.get(where["truncated_tail"], "").startswith("truncated line"), mine
    assert len(mine) == 4, mine  # the newer CLI's line (unknown fields) is no problem
    d = next(d for d in rep.digests if d.source_file == str(f))
    assert [t.prompt[:20] for t in d.turns] == [PROMPT_FIX[:20], PROMPT_SHOW[:20]]


def test_files_that_are_no_sessions(cli_sessions: Generated, tmp_path: Path) -> None:
    lay = cli_sessions.install(tmp_path)
    (lay.claude_home / "projects" / "-no-sessions-here").mkdir(parents=True)
    junk = lay.claude_home / "projects" / "-junk"
    junk.mkdir()
    (junk / "binary.jsonl").write_bytes(b"\x00\xff\xfe garbage\n\x89PNG\r\n")
    (junk / "empty.jsonl").write_text("")
    day = next(lay.codex_home.rglob("rollout-*.jsonl")).parent
    (day / "rollout-2026-11-30T00-00-00-dir.jsonl").mkdir()  # unreadable as a file
    (day / "rollout-2026-11-30T00-00-01-list.jsonl").write_text("[1, 2]\n")
    with HarvestStore(tmp_path / "runs" / "harness.db") as store:
        rep = harvest(_opts(lay), store)
    assert rep.kept == 4
    assert rep.found == rep.kept + rep.skipped + rep.unchanged == 8
    assert rep.skipped_reasons == {"no user prompt": 4}
    by_file = {(Path(p.file).name, p.line): p.what for p in rep.problems}
    assert by_file[("-no-sessions-here", None)].startswith("slug directory holds no sessions")
    assert by_file[("binary.jsonl", 1)].startswith("not JSON")
    assert by_file[("rollout-2026-11-30T00-00-01-list.jsonl", 1)].startswith(
        "a JSON list, not an object"
    )
    assert by_file[("rollout-2026-11-30T00-00-00-dir.jsonl", None)].startswith("unreadable")


def test_bad_options_are_one_line_errors(cli_sessions: Generated, tmp_path: Path) -> None:
    lay = cli_sessions.install(tmp_path)
    runs = ["--runs-dir", str(tmp_path / "runs")]
    r = harvest_cli("--since", "last tuesday", *runs)
    assert (
        r.returncode == 2
        and "--since 'last tuesday'" in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    r = harvest_cli("--source", "cursor", *runs)
    assert r.returncode == 2 and "cursor" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = harvest_cli("--source", "claude", "--claude-home", str(tmp_path / "nope"), *runs)
    assert r.returncode == 2 and "no claude home" in r.stderr and "--claude-home" in r.stderr
    # not errors, reported: a --since in the future, a --project that is not a directory
    r = harvest_cli(
        "--claude-home",
        str(lay.claude_home),
        "--codex-home",
        str(lay.codex_home),
        *runs,
        "--since",
        "2999-01-01",
        "--project",
        str(tmp_path / "not-a-dir"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    whats = " | ".join(p["what"] for p in rep["problems"])
    assert "in the future" in whats and "--project is not a directory" in whats
    assert rep["kept"] == 0
