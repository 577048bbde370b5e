"""junit.xml: so a CI page shows the gate like a test run.

One suite ``gate`` with a case per candidate (failure = reject, skipped = inconclusive) and
one suite per variant with a case per trial (failure = not all checks passed, skipped =
unscorable). CI dashboards then point at the exact task that failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from gate.models import GateDecision, TrialRecord
from gate.scoring import score_trial


def render_junit(decision: GateDecision, trials: Sequence[TrialRecord]) -> str:
    root = ET.Element("testsuites", name=f"gate {decision.run_id}")
    gate = ET.SubElement(root, "testsuite", name="gate", tests=str(len(decision.candidates)))
    fails = skips = 0
    for c in decision.candidates:
        case = ET.SubElement(gate, "testcase", classname="gate", name=c.candidate)
        text = "\n".join(c.reasons)
        if c.decision == "reject":
            fails += 1
            ET.SubElement(case, "failure", message="rejected").text = text
        elif c.decision == "inconclusive":
            skips += 1
            ET.SubElement(case, "skipped", message="inconclusive").text = text
    gate.set("failures", str(fails))
    gate.set("skipped", str(skips))
    w = float(decision.policy.get("soft_weight", 0.5))
    for variant in sorted({t.variant for t in trials}):
        mine = sorted(
            (t for t in trials if t.variant == variant), key=lambda t: (t.task_id, t.attempt)
        )
        suite = ET.SubElement(root, "testsuite", name=f"variant.{variant}", tests=str(len(mine)))
        fails = skips = 0
        for t in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{variant}.{t.split}",
                name=f"{t.task_id}#{t.attempt}",
                time=f"{t.duration_sec:.3f}",
            )
            s = score_trial(t, w)
            if s is None:
                skips += 1
                why = t.reason or "; ".join(c.reason for c in t.check_results if c.passed is None)
                ET.SubElement(case, "skipped", message=f"unscorable: {t.status}").text = why
            elif s.hard < 1.0:
                fails += 1
                bad = [f"{c.name}: {c.reason}" for c in t.check_results if not c.passed]
                ET.SubElement(case, "failure", message=f"{t.status}, mixed {s.mixed:.3f}").text = (
                    "\n".join(bad) or t.reason
                )
        suite.set("failures", str(fails))
        suite.set("skipped", str(skips))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
