"""Every adopt and rollback lands in the audit log: a JSONL file beside the live files
(``gate.audit``, written by ``gate.staging``) and the store's ``audit`` table
(``harness.nightly.audit``, written by the CLI commands and the nightly)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gate import audit
from gate.skill_layout import read_layout
from gate.staging import adopt, rollback, stage
from harness.errors import GateError
from harness.nightly import audit as nightly_audit
from harness.nightly.audit import entries, record
from harness.nightly.records import NightRecord, NightStore
from harness.runner.variants import load_variant

REPO = Path(__file__).resolve().parents[2]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def skill_folder(tmp: Path) -> tuple[Path, Path]:
    """A live skill folder (SKILL.md at its root) and a candidate that edits it and adds a file."""
    live, cand = tmp / "skills" / "brief", tmp / "cand"
    live.mkdir(parents=True)
    (live / "SKILL.md").write_text("---\nname: brief\n---\nold\n")
    cand.mkdir()
    (cand / "SKILL.md").write_text("---\nname: brief\n---\nnew\n")
    (cand / "notes.md").write_text("added\n")
    return live, cand


def do_stage(live: Path, cand: Path, st: Path, run_id: str = "run-1") -> None:
    stage(run_id=run_id, candidate="cand-a", candidate_dir=cand, live_root=live, stage_dir=st)


def test_adopt_and_rollback_of_a_skill_folder_append_entries_beside_it(tmp_path: Path) -> None:
    live, cand = skill_folder(tmp_path)
    st = tmp_path / "stage"
    do_stage(live, cand, st)
    m = adopt(st, reason="gate accepted +0.25", night_id="n1", project="demo")
    log = tmp_path / "skills" / audit.AUDIT_FILE  # one folder up: the skill folder stays clean
    assert not (live / audit.AUDIT_FILE).exists()
    [a] = audit.read(log)
    assert (a.action, a.run_id, a.candidate, a.reason, a.night_id, a.project) == (
        "adopt", "run-1", "cand-a", "gate accepted +0.25", "n1", "demo")
    assert a.time == m.adopted_at and a.stage_dir == str(st.resolve())
    assert a.live_root == str(live.resolve()) and a.audit_file == str(log)
    assert a.user and not a.forced
    files = {f.path: (f.before, f.after) for f in a.files}
    assert files == {"SKILL.md": (sha("---\nname: brief\n---\nold\n"),
                                  sha("---\nname: brief\n---\nnew\n")),
                     "notes.md": (None, sha("added\n"))}

    rollback(st, reason="watch: adopted worse by 0.3", night_id="n2")
    first, second = audit.read(log)
    assert first == a
    assert (second.action, second.reason, second.night_id) == (
        "rollback", "watch: adopted worse by 0.3", "n2")
    back = {f.path: (f.before, f.after) for f in second.files}
    assert back == {"SKILL.md": files["SKILL.md"][::-1], "notes.md": (sha("added\n"), None)}
    # the log is one JSON object per line, nothing else
    lines = log.read_text().splitlines()
    assert [json.loads(x)["action"] for x in lines] == ["adopt", "rollback"]


def test_the_log_is_never_read_as_a_skill_file(tmp_path: Path) -> None:
    """A folder of skills keeps the log at its top, where neither the gate's layout reader nor
    the runner's variant loader looks; a skill folder has it one level up."""
    root = tmp_path / "live"
    (root / "skills" / "brief").mkdir(parents=True)
    (root / "skills" / "brief" / "SKILL.md").write_text("---\nname: brief\n---\nold\n")
    (root / "CLAUDE.md").write_text("memory\n")
    cand = tmp_path / "cand"
    (cand / "skills" / "brief").mkdir(parents=True)
    (cand / "skills" / "brief" / "SKILL.md").write_text("---\nname: brief\n---\nnew\n")
    st = tmp_path / "stage"
    do_stage(root, cand, st)
    adopt(st)
    assert (root / audit.AUDIT_FILE).is_file()
    variant = load_variant("live", root)
    installed = [p for s in variant.skills for p in s.files] + list(variant.memory)
    assert audit.AUDIT_FILE not in " ".join(installed)
    layout = read_layout(root, what="candidate", list_files=True)
    assert all(audit.AUDIT_FILE not in f for s in layout.skills for f in s.files)
    # the live folder used as a candidate stages no audit log either
    st2 = tmp_path / "stage2"
    other = tmp_path / "other"
    (other / "skills" / "brief").mkdir(parents=True)
    (other / "skills" / "brief" / "SKILL.md").write_text("x\n")
    m = stage(run_id="r", candidate="c", candidate_dir=root, live_root=other, stage_dir=st2)
    assert audit.AUDIT_FILE not in [f.path for f in m.files]


def test_an_unwritable_log_says_the_adopt_happened(tmp_path: Path) -> None:
    live, cand = skill_folder(tmp_path)
    (tmp_path / "skills" / audit.AUDIT_FILE).mkdir()  # something that cannot be appended to
    st = tmp_path / "stage"
    do_stage(live, cand, st)
    with pytest.raises(GateError, match=r"adopt of cand-a is done, but the audit log .* could "
                       "not be written") as exc:
        adopt(st)
    assert "manifest.json records the adopt" in exc.value.one_line()
    assert (live / "SKILL.md").read_text().endswith("new\n")


def night(night_id: str, project: str, started: float) -> NightRecord:
    return NightRecord(night_id=night_id, project=project, started_at=started, status="done")


def test_the_table_keeps_one_row_per_action_and_filters_by_project(tmp_path: Path) -> None:
    db = tmp_path / "runs" / "harness.db"
    with NightStore(db) as store:
        store.save(night("n1", "alpha", 1.0))
        store.save(night("n2", "beta", 2.0))
    live, cand = skill_folder(tmp_path)
    st = tmp_path / "stage"
    do_stage(live, cand, st)
    m = adopt(st, reason="auto", night_id="n1")           # alpha's, through its night
    by_alpha = audit.entry_for(m, "adopt", st, reason="auto", night_id="n1")
    record(db, by_alpha)
    record(db, by_alpha)                                  # recording twice keeps one row
    m = rollback(st, reason="by hand", project="beta")    # beta's, by name
    by_beta = audit.entry_for(m, "rollback", st, reason="by hand", project="beta")
    record(db, by_beta)
    assert entries(db) == [by_alpha, by_beta]
    assert entries(db, "alpha") == [by_alpha]
    assert entries(db, "beta") == [by_beta]
    assert entries(db, "gamma") == []
    assert entries(tmp_path / "absent.db") == []
    # what the table holds is what the file beside the live files holds
    assert audit.read(Path(by_alpha.audit_file)) == [by_alpha, by_beta]


def test_the_nightlys_calls_log_in_both_places(tmp_path: Path) -> None:
    db = tmp_path / "runs" / "harness.db"
    live, cand = skill_folder(tmp_path)
    st = tmp_path / "stage"
    do_stage(live, cand, st)
    m = nightly_audit.adopt(db, st, reason="gate accepted", night_id="n1", project="demo")
    assert m.state == "adopted"
    m = nightly_audit.rollback(db, st, reason="watch: worse", night_id="n2", project="demo")
    assert m.state == "rolled_back"
    a, b = entries(db, "demo")
    assert [a, b] == audit.read(tmp_path / "skills" / audit.AUDIT_FILE)
    assert (a.action, a.reason, b.action, b.reason, b.night_id) == (
        "adopt", "gate accepted", "rollback", "watch: worse", "n2")
    assert (live / "SKILL.md").read_text().endswith("old\n")


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HARNESS_RUNS_DIR", None)
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_adopt_and_rollback_commands_record_into_the_runs_store(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    NightStore(runs / "harness.db").close()               # a runs root with its store
    live, cand = skill_folder(tmp_path)
    st = runs / "run-7" / "stage"                         # where `harness stage` puts it
    do_stage(live, cand, st, run_id="run-7")
    r = harness("adopt", str(st), "--reason", "looked good", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"audit log: {tmp_path / 'skills' / audit.AUDIT_FILE} and {runs / 'harness.db'}" \
        in r.stdout
    r = harness("rollback", str(st), "--reason", "changed my mind", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = entries(runs / "harness.db")
    assert [(e.action, e.reason, e.run_id) for e in got] == [
        ("adopt", "looked good", "run-7"), ("rollback", "changed my mind", "run-7")]
    assert audit.read(tmp_path / "skills" / audit.AUDIT_FILE) == got
    assert got[0].time.timestamp() <= time.time()


def test_without_a_store_the_command_logs_beside_the_live_files_only(tmp_path: Path) -> None:
    live, cand = skill_folder(tmp_path)
    st = tmp_path / "stage"
    do_stage(live, cand, st)
    work = tmp_path / "elsewhere"
    work.mkdir()
    r = harness("adopt", str(st), cwd=work)
    assert r.returncode == 0, r.stderr
    assert "no runs store found; pass --runs-dir" in r.stdout
    assert not (work / "runs").exists()                   # no store is made just for the log
    assert len(audit.read(tmp_path / "skills" / audit.AUDIT_FILE)) == 1
    r = harness("rollback", str(st), "--runs-dir", str(tmp_path / "r2"), cwd=work)
    assert r.returncode == 0, r.stderr
    assert [e.action for e in entries(tmp_path / "r2" / "harness.db")] == ["rollback"]
