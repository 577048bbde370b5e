#!/usr/bin/env bash
# The nightly loop offline: sessions written by the real CLIs are harvested and mined, night 1
# gates and adopts a better skill, a worse one slips past by hand, and night 2's watch rolls
# it back. The last line is one JSON object (see scripts/nightly_demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec .venv/bin/python scripts/nightly_demo.py "$@"
