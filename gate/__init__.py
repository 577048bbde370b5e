"""The gate: checks, scores, an accept / reject / inconclusive decision, staging and reports.

Why it exists: a mean over tasks hides a per-task regression, machinery failures scored as
zero reject good skills, and a check that silently passes or never compiles proves nothing.
The gate turns every trial of a run into one decision *with its evidence*.

How the runner uses it::

    from gate.checks import validate_checks, evaluate_all, CheckContext   # load time / per trial
    from gate.models import TrialEvidence, ToolCall, TrialRecord          # per trial
    from gate.scoring import outcome_status                               # per trial
    from gate.decision import decide, GatePolicy                          # per run
    from gate.report import write_reports                                 # per run
    from gate.staging import stage, adopt, rollback                       # after accept

Layout: ``checks/`` (one module per family, a lazy registry of op -> ``module:Class``),
``scoring`` (hard / soft / mixed, paired bootstrap), ``metrics``, ``skillfiles`` (structural
check of candidate files), ``decision``, ``report/`` (md, json, html, junit), ``staging``
(with ``skill_layout``: where each candidate file lands in the live skill, and ``fileswap``:
all-or-nothing writes), ``io`` (trial records from a run directory or JSON).
"""
