"""Pure pieces of the runner: the store, variants, paths."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runner.paths import RunPaths, safe_name
from harness.runner.store import SCHEMA_VERSION, Store
from harness.runner.variants import load_variant, variant_files


def _result(task: str, variant: str, attempt: int, status: str) -> dict:
    return {"task_id": task, "variant": variant, "attempt": attempt, "status": status, "split": "heldout",
            "reason": "r", "tokens": {"input": 3, "output": 4},
            "checks": [{"name": "c", "op": "contains", "passed": status == "passed", "score": 1.0, "reason": ""}]}


def test_store_round_trip_and_resume_keys(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as s:
        s.create_run("r1", suite="s", agent="claude", model_mode="scripted", config={"k": 1})
        s.record_trial("r1", _result("t1", "baseline", 0, "passed"))
        s.record_trial("r1", _result("t1", "candidate", 0, "failed"))
        s.record_trial("r1", _result("t1", "candidate", 0, "passed"))  # a re-run replaces
        s.event("r1", "attach", "docker exec ...", "t1/baseline/0")
        assert s.completed_keys("r1") == {("t1", "baseline", 0), ("t1", "candidate", 0)}
        assert [t["status"] for t in s.trials("r1")] == ["passed", "passed"]
        assert s.run("r1")["config"] == {"k": 1}
        assert s.runs()[0]["trials"] == 2 and s.latest_run_id() == "r1"
        assert s.events("r1")[0]["trial"] == "t1/baseline/0"
    rows = sqlite3.connect(tmp_path / "h.db").execute("SELECT COUNT(*) FROM checks").fetchone()
    assert rows[0] == 2


def test_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    Store(tmp_path / "h.db").close()
    db = sqlite3.connect(tmp_path / "h.db")
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="newer harness"):
        Store(tmp_path / "h.db")


#: the schema of the first stores (version 1), as they exist on users' disks
V1_TRIALS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE runs (
  id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL,
  suite TEXT NOT NULL, agent TEXT NOT NULL, model_mode TEXT NOT NULL, config_json TEXT NOT NULL);
CREATE TABLE trials (
  run_id TEXT NOT NULL REFERENCES runs(id), task_id TEXT NOT NULL, variant TEXT NOT NULL,
  attempt INTEGER NOT NULL, split TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
  started_at REAL, finished_at REAL, duration_sec REAL, agent_sec REAL,
  input_tokens INTEGER, output_tokens INTEGER, artifacts TEXT, result_json TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id, variant, attempt));
INSERT INTO runs VALUES ('old', 1.0, NULL, 'interrupted', 's', 'claude', 'scripted', '{}');
INSERT INTO trials VALUES ('old', 't1', 'baseline', 0, 'heldout', 'passed', 'ok', 1.0, 2.0, 1.0, 0.5,
  3, 4, 't1/baseline/0', '{"status": "passed", "task_id": "t1"}');
"""


def test_store_migrates_a_version_1_store_and_keeps_its_trials(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "h.db")
    db.executescript(V1_TRIALS)
    db.close()
    with Store(tmp_path / "h.db") as s, Store(tmp_path / "h.db"):  # a second opener adds nothing
        assert s.completed_keys("old") == {("t1", "baseline", 0)}
        assert s.trials("old") == [{"status": "passed", "task_id": "t1"}]
        s.record_trial("old", {**_result("t1", "candidate", 0, "failed"), "warm": True, "sandbox_sec": 0.05,
                               "wall_sec": 7.5, "timing": {"collect": 0.2}})
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    rows = db.execute("SELECT variant, warm, sandbox_sec, wall_sec, timing_json FROM trials ORDER BY variant")
    assert rows.fetchall() == [("baseline", None, None, None, None),
                               ("candidate", 1, 0.05, 7.5, '{"collect": 0.2}')]
    db.close()


def test_a_fresh_store_has_the_same_columns_as_a_migrated_one(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "old.db")
    old.executescript(V1_TRIALS)
    old.close()
    Store(tmp_path / "old.db").close()
    Store(tmp_path / "new.db").close()

    def columns(name: str) -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / name) as c:
            return [(r[1], r[2]) for r in c.execute("PRAGMA table_info(trials)")]

    assert columns("old.db") == columns("new.db")
    assert ("wall_sec", "REAL") in columns("new.db")


def test_paths_are_safe_and_stable(tmp_path: Path) -> None:
    p = RunPaths(tmp_path, "run-1")
    t = p.trial("../evil/task", "cand idate", 2)
    assert t.dir == tmp_path / "run-1" / "evil_task" / "cand_idate" / "2"
    assert safe_name("..") == "_" and t.result.name == "result.json"


def test_variants_from_every_shape(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "SKILL.md").write_text("---\nname: tidy\ndescription: d\n---\nbody\n")
    (one / "ref.md").write_text("extra")
    v = load_variant("baseline", one)
    assert [s.name for s in v.skills] == ["tidy"] and set(v.skills[0].files) == {"SKILL.md", "ref.md"}
    many = tmp_path / "many"
    (many / "skills" / "a").mkdir(parents=True)
    (many / "skills" / "a" / "SKILL.md").write_text("no frontmatter")
    (many / "CLAUDE.md").write_text("memory")
    v2 = load_variant("cand", many)
    assert [s.name for s in v2.skills] == ["a"] and v2.memory == {"CLAUDE.md": b"memory"}
    assert set(variant_files(v2)) == {"skills/a/SKILL.md", "CLAUDE.md"}
    assert load_variant("none", "none").skills == ()
    assert v.digest() != v2.digest()


@pytest.mark.parametrize(
    ("name", "path", "msg"),
    [("bad name", "none", "variant name"), ("v", "/no/such/dir", "does not exist"), ("v", "README", "holds no")],
)
def test_variant_errors_say_what_is_wrong(tmp_path: Path, name: str, path: str, msg: str) -> None:
    if path == "README":  # files, none of them a skill or memory file: a wrong path
        (tmp_path / "README").mkdir()
        (tmp_path / "README" / "notes.txt").write_text("not a skill")
        path = str(tmp_path / "README")
    with pytest.raises(ConfigError, match=msg):
        load_variant(name, path)


def test_an_empty_variant_folder_is_the_bare_agent(tmp_path: Path) -> None:
    v = load_variant("bare", tmp_path)
    assert v.skills == () and v.memory == {} and variant_files(v) == {}


def test_no_variant_anywhere_runs_the_bare_agent() -> None:
    from types import SimpleNamespace

    from harness.runner.launch import _variant_specs

    assert _variant_specs({}, SimpleNamespace(variants={})) == {"bare": "none"}
    suite = SimpleNamespace(variants={"cand": "c", "baseline": "b"})
    assert list(_variant_specs({}, suite)) == ["baseline", "cand"]
    assert _variant_specs({"x": "none"}, suite) == {"x": "none"}


def test_run_paths_own_every_run_file(tmp_path: Path) -> None:
    p = RunPaths(tmp_path, "r1")
    assert p.report_dir == tmp_path / "r1" / "report" and p.stage_dir == tmp_path / "r1" / "stage"
    assert p.variant_dir("cand") == p.variants_dir / "cand" == tmp_path / "r1" / "variants" / "cand"
    assert p.trials_file.name == "trials.jsonl" and p.config.name == "run.json"
    (tmp_path / "r1").mkdir()
    assert RunPaths.of_dir(tmp_path / "r1") == RunPaths(tmp_path.resolve(), "r1")


def test_run_config_reads_older_stored_configs_and_refuses_unknown_keys() -> None:
    from harness.runner.config import RunConfig

    old = {"suite": "/s", "agent": "noop", "variants": {"baseline": "none"}, "trials": 2,
           "model": "replay", "model_name": "m", "split": None, "tasks": None, "timeout": None,
           "cassette": "/c.json", "concurrency": 3}
    cfg = RunConfig.from_stored(old)
    assert cfg.model_mode == "replay" and cfg.cassette == Path("/c.json") and cfg.concurrency == 3
    assert RunConfig.from_stored(cfg.stored()) == cfg  # what run.json keeps reads back the same
    assert RunConfig.from_stored({**old, "fresh_sandbox": True}).fresh_sandbox
    with pytest.raises(ConfigError, match="stored run config: colour"):
        RunConfig.from_stored({**old, "colour": "red"})
    with pytest.raises(ConfigError, match="--timeout must be a number of seconds > 0"):
        RunConfig(suite=Path("/s"), timeout=0).check()


def test_pass_at_k_per_variant_in_the_summary() -> None:
    from gate.models import TrialRecord
    from harness.cli.run_cmd import pass_at_k

    def rec(task: str, variant: str, attempt: int, status: str) -> TrialRecord:
        return TrialRecord(run_id="r", task_id=task, variant=variant, attempt=attempt,
                           split="heldout", status=status, reason="")

    records = [rec("t1", "bare", 0, "passed"), rec("t1", "bare", 1, "failed"),
               rec("t2", "bare", 0, "failed"), rec("t2", "bare", 1, "failed")]
    pak = pass_at_k(records)["bare"]
    assert pak["1"] == pytest.approx(0.25) and pak["2"] == pytest.approx(0.5)


def test_one_registry_helper() -> None:
    from harness.registry import Registry

    reg: Registry[type] = Registry("widget", {"path": "pathlib:Path"})
    assert reg.load("path") is Path and reg.load("pathlib:PurePath").__name__ == "PurePath"
    with pytest.raises(ConfigError, match="unknown widget 'gear'") as exc:
        reg.load("gear")
    assert "known: path (or module:Class)" in exc.value.one_line()
    with pytest.raises(ConfigError, match="cannot be loaded"):
        reg.load("pathlib:Nope")
    strict: Registry[type] = Registry("kind", {"a": "pathlib:Path"}, allow_path=False)
    with pytest.raises(ConfigError, match="unknown kind 'pathlib:Path'"):
        strict.load("pathlib:Path")
    strict["b"] = "pathlib:PurePath"  # a mapping too: monkeypatch.setitem works on it
    assert list(strict) == ["a", "b"] and "b" in strict and dict(strict.items())["b"] == "pathlib:PurePath"
    del strict["b"]
    assert "b" not in strict and len(strict) == 1


def test_a_run_is_named_by_its_id_or_its_folder(tmp_path: Path) -> None:
    from harness.cli.common import resolve_run

    runs = tmp_path / "runs"
    with Store(runs / "harness.db") as s:
        s.create_run("r-old", suite="/s", agent="noop", model_mode="scripted", config={})
        s.create_run("r-new", suite="/s", agent="noop", model_mode="scripted", config={})
    (runs / "r-old").mkdir()
    (runs / "r-old" / "run.json").write_text("{}")
    for ref, runs_dir in (("r-old", runs), (str(runs / "r-old"), None), (None, runs)):
        paths, store = resolve_run(ref, runs_dir)
        store.close()
        assert paths.root == runs.resolve() and paths.run_id == ("r-new" if ref is None else "r-old")
    with pytest.raises(ConfigError, match="no run nope in"):
        resolve_run("nope", runs)


def test_script_flag_gives_every_task_the_same_rules(tmp_path: Path) -> None:
    from harness.runner.launch import _use_script
    from harness.tasks import load_suite

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.yaml").write_text("- {id: a, prompt: x, script: {rules: []}}\n- {id: b, prompt: y}\n")
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    suite = load_suite(tmp_path / "s")
    _use_script(suite, tmp_path / "rules.yaml")
    assert {t.script_source() for t in suite.tasks} == {(tmp_path / "rules.yaml").resolve()}
