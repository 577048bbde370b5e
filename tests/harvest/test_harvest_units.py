"""Pure parts of harvest: redaction, evidence heuristics, ``--since``, and the store's
tables living beside the runs store in one SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.harvest import evidence as ev
from harness.harvest.digest import Digest
from harness.harvest.redact import MARK, redact_obj, redact_text
from harness.harvest.run import parse_since
from harness.harvest.store import META_KEY, HarvestStore
from harness.runner.store import Store

KINDS = {
    "openai": "key sk-proj-Abc123Def456Ghi789Jkl012Mno345 here",
    "openai-legacy": "OPENAI sk-Abc123Def456Ghi789Jkl012Mno345Pqr",
    "anthropic": "use sk-ant-api03-abcDEF123_ghiJKL456-mnoPQR now",
    "aws": "id AKIAIOSFODNN7EXAMPL2 ok",
    "aws-session": "id ASIAIOSFODNN7EXAMPL2 ok",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789 and gho_ABCDEFGHIJKLMNOPQRSTUVWX12",
    "github-pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "slack": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp and xoxp-1111111111-abcdef",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "bearer": "curl -H 'Authorization: Bearer abc.def-ghi_jkl012345'",
    "basic": "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "bare-bearer": "token: Bearer ZXlKaGJHY2lPaUpJVXpJMU5pSjkxMjM0NTY3",
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    ),
    "json-key": '{"client_secret": "s3cr3t-v4lue", "password": "hunter2"}',
    "escaped-json-key": '"{\\"api_key\\": \\"inner-v4lue\\"}"',
    "env": "export DB_PASSWORD=correcthorse GITHUB_TOKEN='quoted value'",
    "url": "git clone https://user:pa55word@example.invalid/repo.git",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
}
SECRET_BITS = [
    "Abc123Def456",
    "abcDEF123",
    "IOSFODNN7EXAMPL2",
    "abcdefghijklmnop",
    "11ABCDEFG",
    "1234567890-0987",
    "AIzaSyA1b2",
    "abc.def-ghi",
    "dXNlcjpwYXNz",
    "ZXlKaGJHY2lP",
    "dozjgNryP4J3",
    "s3cr3t-v4lue",
    "hunter2",
    "inner-v4lue",
    "correcthorse",
    "quoted value",
    "pa55word",
    "MIIEowIBAAKCAQEA",
]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_redacted(kind: str) -> None:
    out = redact_text(KINDS[kind])
    assert MARK in out, out
    for bit in SECRET_BITS:
        assert bit not in out, (kind, out)


def test_look_alikes_are_kept() -> None:
    text = (
        '{"input_tokens": 12, "output_tokens": 3} input_tokens=5 scikit sk-learn task-ant '
        "the token budget; max_tokens: 100; AKIA-like words; Bearer of bad news"
    )
    assert redact_text(text) == text


def test_secret_named_keys_in_objects() -> None:
    obj = {
        "env": {"API_KEY": "abc", "HOME": "/root"},
        "headers": [{"Authorization": "Bearer zzzzzzzzzzzzzzzzzz"}],
        "usage": {"input_tokens": 5},
        "password": "",
        "nested": {"refresh_token": "r1"},
    }
    out = redact_obj(obj)
    assert out["env"] == {"API_KEY": MARK, "HOME": "/root"}
    assert out["headers"][0]["Authorization"] == "Bearer " + MARK
    assert (
        out["usage"] == {"input_tokens": 5}
        and out["password"] == ""
        and out["nested"]["refresh_token"] == MARK
    )


@pytest.mark.parametrize(
    ("cmd", "is_test"),
    [
        ("python3 -m pytest -q tests/", True),
        ("pytest", True),
        ("cd app && npm test", True),
        ("npm run test -- -u", True),
        ("go test ./...", True),
        ("cargo test --all", True),
        ("make test", True),
        ("python -m unittest -v", True),
        ("yarn test", True),
        ("./gradlew test", True),
        ("bundle exec rspec spec/a_spec.rb", True),
        ("cat test_calc.py", False),
        ("git commit -m 'add tests'", False),
        ("ls tests", False),
        ("echo pytest", True),
    ],
)
def test_test_commands(cmd: str, is_test: bool) -> None:
    assert ev.is_test_command(cmd) is is_test


def test_test_outcome_without_an_exit_code() -> None:
    assert ev.test_run(0, "pytest", "==== 3 passed in 0.1s ====", None, False).outcome == "passed"
    assert ev.test_run(0, "pytest", "==== 1 failed, 2 passed ====", None, False).outcome == "failed"
    assert ev.test_run(0, "pytest", "collecting...", None, False).outcome == "unknown"
    r = ev.test_run(0, "pytest", "lots\n==== 1 failed, 2 passed in 0.2s ====\n", 1, True)
    assert (r.outcome, r.summary) == ("failed", "==== 1 failed, 2 passed in 0.2s ====")


def test_error_signatures_ignore_what_varies() -> None:
    a = ev.normalise("FileNotFoundError: [Errno 2] No such file or directory: '/home/a/x.py'")
    b = ev.normalise("FileNotFoundError: [Errno 2] No such file or directory: '/tmp/other/y.py'")
    assert a == b
    assert (
        ev.normalise("KeyError at 0x7f3a2b in /srv/app/main.py line 42")
        == "KeyError at <hex> in <path> line <n>"
    )
    assert (
        ev.error_line("ok\nTraceback (most recent call last):\n  File x\nValueError: bad 3\n")
        == "ValueError: bad 3"
    )
    assert ev.error_line("all fine") is None


def test_files_from_shell_commands() -> None:
    assert ev.shell_files("sed -i 's/a/b/' src/x.py && pytest") == ["src/x.py"]
    assert ev.shell_files("cat > notes.md <<'EOF'\nhi\nEOF") == ["notes.md"]
    assert ev.shell_files("echo 1 >> log.txt; echo 2 > /dev/null; tee -a out.txt < in.txt") == [
        "log.txt",
        "out.txt",
    ]
    assert ev.shell_files("git mv a.py b.py") == ["a.py", "b.py"]
    assert ev.shell_files(
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: calc.py\n"
        "@@\n-a\n+b\n*** End Patch\nEOF"
    ) == ["calc.py"]
    assert ev.shell_files("ls -la && cat x.py | grep y") == []


def test_since() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("36h", now) == now - timedelta(hours=36)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T08:00:00+02:00", now).utcoffset() == timedelta(hours=2)
    with pytest.raises(ConfigError, match="neither an ISO date"):
        parse_since("yesterday", now)


def test_store_shares_the_runs_database(tmp_path: Path) -> None:
    """Harvest tables and the runs store live in one file, opened in either order."""
    db = tmp_path / "harness.db"
    with HarvestStore(db) as hs:
        d = Digest(id="claude:s1", agent="claude", session_id="s1", cwd="/p/a")
        hs.save(
            "claude", "/x/s1.jsonl", 10, 20, outcome="kept", session_id="s1", cwd="/p/a", digest=d
        )
    rs = Store(db)
    rs.create_run("r1", suite="s", agent="claude", model_mode="scripted", config={})
    rs.close()
    with HarvestStore(db) as hs:
        assert hs.digest("claude", "s1") == d
        assert hs.digests(project="/p") == [d] and hs.digests(project="/p/ab") == []
        assert hs.file_seen("claude", "/x/s1.jsonl")["outcome"] == "kept"  # type: ignore[index]
    with sqlite3.connect(db) as c:
        keys = dict(c.execute("SELECT key, value FROM meta").fetchall())
        c.execute("UPDATE meta SET value='99' WHERE key=?", (META_KEY,))
    assert keys[META_KEY] == "1" and "schema_version" in keys
    with pytest.raises(ConfigError, match="newer harness"):
        HarvestStore(db)


def test_edits_as_the_tools_made_them() -> None:
    from harness.harvest.builder import MAX_EDIT_CHARS, SessionBuilder
    from harness.harvest.digest import StartState

    b = SessionBuilder("claude", "/x.jsonl", session_id="s", cwd="/repo")
    b.prompt("edit things")
    b.call(
        "1",
        "Edit",
        {"file_path": "/repo/a.py", "old_string": "x", "new_string": "y", "replace_all": True},
    )
    b.call(
        "2",
        "MultiEdit",
        {
            "file_path": "/repo/b.py",
            "edits": [
                {"old_string": "1", "new_string": "2"},
                {"old_string": "3", "new_string": "4"},
            ],
        },
    )
    b.call("3", "apply_patch", {"input": "*** Begin Patch\n*** Add File: c.py\n+hi\n*** End Patch"})
    b.call("4", "Write", {"file_path": "/elsewhere/d.py", "content": "z" * (MAX_EDIT_CHARS + 5)})
    b.call("5", "Bash", {"command": "ls"}, "ls")
    b.result("1", "error: string not found", is_error=True)
    d = b.build(StartState(), "")
    got = [(e.op, e.path, e.old, e.new, e.replace_all, e.is_error) for e in d.edits[:3]]
    assert got == [
        ("replace", "a.py", "x", "y", True, True),
        ("replace", "b.py", "1", "2", False, False),
        ("replace", "b.py", "3", "4", False, False),
    ]
    assert d.edits[3].op == "patch" and "c.py" in (d.edits[3].patch or "")
    assert (d.edits[4].path, d.edits[4].truncated, len(d.edits[4].content or "")) == (
        "/elsewhere/d.py",
        True,
        MAX_EDIT_CHARS,
    )
    assert len(d.edits) == 5 and d.files_touched == [
        "b.py",
        "c.py",
        "/elsewhere/d.py",
    ]  # the failed Edit touched nothing


def test_one_session_in_two_files_keeps_the_longer(tmp_path: Path) -> None:
    def digest(source: str, ended: str) -> Digest:
        return Digest.model_validate(
            {
                "id": "codex:s",
                "agent": "codex",
                "session_id": "s",
                "source_file": source,
                "ended_at": ended,
            }
        )

    with HarvestStore(tmp_path / "h.db") as hs:
        long, short = (
            digest("/b.jsonl", "2026-11-30T10:00:00Z"),
            digest("/a.jsonl", "2026-11-30T09:00:00Z"),
        )
        hs.save("codex", "/b.jsonl", 1, 1, outcome="kept", digest=long)
        hs.save("codex", "/a.jsonl", 1, 1, outcome="kept", digest=short)  # read later, ends earlier
        assert hs.digest("codex", "s") == long
        grown = digest("/b.jsonl", "2026-11-30T11:00:00Z")
        hs.save("codex", "/b.jsonl", 2, 2, outcome="kept", digest=grown)
        assert hs.digest("codex", "s") == grown


def test_homes_from_the_environment(tmp_path: Path) -> None:
    from harness.harvest import claude, codex

    env = {"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": "/cfg/claude", "CODEX_HOME": "/cfg/codex"}
    assert claude.home(None, env) == Path("/cfg/claude") and codex.home(None, env) == Path(
        "/cfg/codex"
    )
    assert claude.home(None, {"HOME": str(tmp_path)}) == tmp_path / ".claude"
    assert codex.home(None, {"HOME": str(tmp_path)}) == tmp_path / ".codex"
    assert claude.home(Path("/x"), env) == Path("/x")
