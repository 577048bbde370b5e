#!/usr/bin/env bash
# The test command: set up everything, then run the whole suite on the real engine, tmux
# and agent CLIs. Extra arguments go to pytest (e.g. `bash scripts/test.sh -k sandbox`).
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS_EXTRAS=test,ray bash scripts/setup.sh

# host tools only the tests use: asciinema (plays recorded casts back), chromium (renders
# report.html for the screenshot test). Installed when missing and we are root on Debian.
missing=()
command -v asciinema >/dev/null 2>&1 || missing+=(asciinema)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[test] installing ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "[test] note: ${missing[*]} missing; the tests that need them skip (install them to run everything)"
  fi
fi
# two pytest workers, a test file each at a time (module fixtures stay shared): most of a test's
# time is a CLI waiting on timers and screens, so two cores hold two files' worth;
# HARNESS_TEST_WORKERS=0 runs in one process (e.g. to read a failure's output in order)
exec .venv/bin/python -m pytest -n "${HARNESS_TEST_WORKERS:-2}" --dist loadfile --durations=30 "$@"
