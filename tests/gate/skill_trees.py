"""Small skill trees on disk for the stage / adopt / rollback tests."""

from __future__ import annotations

from pathlib import Path

from harness.runner.variants import load_variant, variant_files


def skill_md(name: str, body: str) -> str:
    return f"---\nname: {name}\ndescription: {name} skill.\n---\n# {name}\n\n{body}\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def as_run_stores_it(src: Path, dest: Path) -> Path:
    """The candidate folder exactly as Runner.write_run_files lays it out."""
    for rel, text in variant_files(load_variant("candidate", src)).items():
        write(dest, {rel: text})
    return dest


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under root: a byte-for-byte picture (but for
    the audit log adopt and rollback append to: tests/nightly/test_audit.py reads that)."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*")) if p.name != ".harness-audit.jsonl"
    }
