#!/usr/bin/env bash
# The test command: set up everything, then run the whole suite on the real engine, tmux
# and agent CLIs. Extra arguments go to pytest (e.g. `bash scripts/test.sh -k sandbox`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
