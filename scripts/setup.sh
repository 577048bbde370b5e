#!/usr/bin/env bash
# Everything both README commands need, idempotent: virtualenv + dependencies, host tools,
# the Docker engine (installed and started when missing and we are root), the Debian base
# layer (debootstrap from the host's apt mirror: no registry needed) and the harness images
# (built once, reused while their content hash matches). Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*"; }

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python >= 3.11 is needed (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

# host tools: tmux for local sessions and tests (root on Debian installs it; otherwise say how)
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing tmux"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
  else
    echo "error: tmux is missing; install it (sudo apt-get install tmux)" >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
# which extras: the tests' by default; scripts/test.sh adds `ray` (the multi-node tests)
extras=${HARNESS_EXTRAS:-test}
want=$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.harness-deps 2>/dev/null)" != "$want" ]; then
  say "installing the harness and its dependencies [$extras] into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]" 2>&1 \
    | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import harness, controllers, gate, docker, libtmux, pytest' \
    || { echo "error: dependency install failed (see pip output above)" >&2; exit 2; }
  echo "$want" > .venv/.harness-deps
fi

# the report's terminal player: asciinema-player (pinned) fetched with npm into .cache/ and
# inlined into each trial's player.html; without npm the pages use the built-in player
say "$(.venv/bin/python -m gate.report.install_player 2>&1 || true)"

# engine, Debian base layer, images (the host CA bundle is passed in when present)
say "checking the Docker engine and images (first run: ~3 minutes)"
.venv/bin/harness doctor --fix
