#!/usr/bin/env bash
# The main job, offline on the scripted model: set up, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/harness smoke
