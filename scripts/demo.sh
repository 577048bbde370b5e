#!/usr/bin/env bash
# The main job, offline on the scripted model: set everything up, then replay the demo suite
# (five real bugs, a deficient live skill and a candidate) through the real claude CLI in
# containers, gate the candidate, and say where the evidence is.
# Pass extra `harness run` options through, e.g. `bash scripts/demo.sh --agent codex`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
set +e
.venv/bin/harness run tasks/examples --gate --gate-policy tasks/examples/gate.yaml "$@"
rc=$?
set -e
case $rc in
  0) echo "demo: the gate accepted the candidate skill (see the report above)";;
  1) echo "demo: the gate rejected the candidate skill (see the report above)";;
  2) echo "demo: the gate was inconclusive, or the run failed (see above)"; exit 2;;
  *) exit $rc;;
esac
echo "browse: .venv/bin/harness show; open runs/<run-id>/report/report.html; .venv/bin/harness play runs/<run-id>/<task>/<variant>/0"
