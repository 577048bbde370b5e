"""The house's layering is a contract the tests enforce (import-linter, `.importlinter`):
the CLI on top, then the runner with harvest and mine, then task loading and images, then
the parts (controllers, gate, Gateway: independent of each other), then the ground floor
(errors, engine, labels, registry, episode). Agents and wire protocols are one module each
and never import each other. Nothing imports upwards, so any part can be reused or replaced
without dragging the runner along."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                               "sys.exit(c.main(standalone_mode=False, args=sys.argv[1:]))",
         "--config", str(config), "--no-cache"],
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False,
    )


def test_every_contract_is_kept() -> None:
    r = _lint(REPO / ".importlinter")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_an_upward_import_would_break_the_floors(tmp_path: Path) -> None:
    """The contract can fail: the same floors upside down are broken by today's imports."""
    text = (REPO / ".importlinter").read_text()
    start = text.index("layers =\n") + len("layers =\n")
    end = text.index("\n\n", start)
    floors = text[start:end].splitlines()
    flipped = text[:start] + "\n".join(reversed(floors)) + text[end:]
    cfg = tmp_path / "flipped.ini"
    cfg.write_text(flipped)
    r = _lint(cfg)
    assert r.returncode != 0 and "BROKEN" in r.stdout, r.stdout[-2000:]
