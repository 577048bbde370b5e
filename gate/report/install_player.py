"""``python -m gate.report.install_player [CACHE_DIR]``: setup's step that fetches the pinned
asciinema-player (see ``asciinema.py``). Prints one line either way; exits 1 when the player
could not be installed, which setup reports and carries on from (pages use the fallback).
A module of its own so that ``-m`` does not re-run a module the package already imported."""

from __future__ import annotations

import sys
from pathlib import Path

from gate.report.asciinema import CACHE_ROOT, NAME, VERSION, install
from harness.errors import GateError


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: python -m gate.report.install_player [CACHE_DIR]", file=sys.stderr)
        return 2
    root = Path(argv[0]) if argv else CACHE_ROOT
    try:
        assets, fetched = install(root)
    except (GateError, OSError) as exc:
        msg = exc.one_line() if isinstance(exc, GateError) else str(exc)
        print(f"{NAME} not installed: {msg}; player pages use the built-in fallback player")
        return 1
    print(f"{assets.label} {'fetched into' if fetched else 'already in'} {root / VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
