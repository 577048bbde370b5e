"""``--judge rubric``: a model writes one grading rubric per mined task, through the Gateway.

Why through the Gateway: the user's API key stays in the Gateway process (the same one
``harness run`` uses); tests script the model, users record or go live. What the model sees
is already redacted (digests are). A rubric is an addition, never the only check (a task
gets one only after its evidence checks were found), and it is marked as model-written in
the task (``name: mined rubric (model-written)``) and in the report (``model_checks``).
"""

from __future__ import annotations

import re

import anthropic

from harness.errors import ConfigError
from harness.mine.run import Built

RUBRIC_CHECK_NAME = "mined rubric (model-written)"
SYSTEM = (
    "You write grading rubrics for replayed coding-agent tasks. Given what a user asked and "
    "what the agent's past session did, reply with the rubric only: 2 to 5 short lines, each "
    "a property a good final answer or change must have. No preamble."
)
MAX_RUBRIC_CHARS = 2000


def _ask(built: Built) -> str:
    d = built.data
    prompts = d.get("turns") or [d.get("prompt", "")]
    evidence = d["meta"]["mined"].get("evidence", [])
    answers = d["meta"]["mined"].get("answers", [])
    return (
        "TASK (the user's prompts, in order):\n" + "\n---\n".join(prompts)
        + "\n\nWHAT THE SESSION DID:\n" + "\n".join(f"- {e}" for e in evidence)
        + ("\n\nITS FINAL ANSWER:\n" + answers[-1] if answers else "")
        + "\n\nWrite the rubric."
    )


def write_rubrics(built: list[Built], *, base_url: str, api_key: str, model: str,
                  timeout_sec: float = 120.0) -> list[str]:
    """Add a rubric check to each task (in place); returns one note per task without one."""
    notes: list[str] = []
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=2,
                                 timeout=timeout_sec)
    try:
        for b in built:
            try:
                msg = client.messages.create(
                    model=model, max_tokens=600, system=SYSTEM,
                    messages=[{"role": "user", "content": _ask(b)}])
            except anthropic.APIError as exc:
                raise ConfigError(f"the rubric judge failed on {b.data['id']}: "
                                  f"{type(exc).__name__}: {str(exc)[:160]}",
                                  hint="check the Gateway mode and key, or mine without --judge") from None
            text = "".join(getattr(x, "text", "") for x in msg.content).strip()
            text = re.sub(r"^```\w*\n|\n```$", "", text).strip()[:MAX_RUBRIC_CHARS]
            if not text:
                notes.append(f"{b.data['id']}: the judge wrote no rubric")
                continue
            b.data["checks"].append({"op": "rubric", "rubric": text, "name": RUBRIC_CHECK_NAME})
            if b.summary is not None:
                b.summary.checks.append("rubric")
                b.summary.model_checks.append("rubric")
    finally:
        client.close()
    return notes

