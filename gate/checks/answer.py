"""Checks on the agent's final answer text.

Semantics follow what SkillOpt-Sleep and gbrain-evals document, where they disagree the
choice is written on the class:

- ``contains`` / ``not_contains`` compare case-insensitively (SkillOpt-Sleep's rule judge);
  a literal that only matches in one casing is too easy to game or to miss.
- ``regex`` compiles with ``m`` by default because gbrain-evals patterns use ``^`` to mean
  "start of a line" (``^[Rr]ecommendation[ \\t]*[:=]``); explicit ``flags`` replace it.
- ``section_present`` matches a markdown heading of any depth whose text equals the
  argument, case-insensitively; leading ``#`` in the argument are ignored.
- ``min_citations`` counts non-overlapping citation spans (see :data:`CITATION_PATTERN`).
- ``qrels`` scores retrieval: nDCG@k with binary relevance over the slugs the agent's
  retrieval tools returned (then those it cited), as gbrain-evals does; it *passes* only when
  every expected slug is among the first k.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from gate.checks.base import (
    BaseCheck,
    CheckContext,
    Param,
    Verdict,
    clip,
    compile_regex,
    regex_problem,
)
from gate.models import TrialEvidence

#: gbrain-style citations: markdown links, brain-page slugs (``topics/a-b``) and footnotes.
BRAIN_DIRS = "wiki|people|companies|deals|topics|concepts|projects|writing|originals"
SLUG_PATTERN = rf"\b(?:{BRAIN_DIRS})/[a-z0-9][a-z0-9\-/]*[a-z0-9]"
CITATION_PATTERN = rf"\[[^\]\n]+\]\([^)\s]+\)|(?i:{SLUG_PATTERN})|\[\d+\]"

#: Openers of a refusal; matched at the start of the answer or of any paragraph.
REFUSAL_PATTERN = re.compile(
    r"(?im)^\s*(?:i'?m sorry,? but |sorry,? )?(?:i\s+(?:can(?:no|')t|cannot|am unable to|"
    r"won'?t|will not|am not able to)\s+(?:help|assist|do|comply|provide|complete|answer)"
    r"|as an ai\b)"
)


class Contains(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"value": Param("str")}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        found = args["value"].casefold() in evidence.final_answer.casefold()
        return Verdict.of(found, f"{args['value']!r} {'found' if found else 'not found'} in answer")


class NotContains(Contains):
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        found = args["value"].casefold() in evidence.final_answer.casefold()
        return Verdict.of(
            not found, f"{args['value']!r} {'found' if found else 'absent'} in answer"
        )


class Regex(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "pattern": Param("str"),
        "flags": Param("flags", required=False, default="m"),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = regex_problem(args.get("pattern"), _safe_flags(args.get("flags", "m")))
        return [("pattern", problem)] if problem else []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        m = compile_regex(args["pattern"], args["flags"]).search(evidence.final_answer)
        if m:
            return Verdict.of(True, f"/{args['pattern']}/ matched {clip(m.group(0), 60)!r}")
        return Verdict.of(False, f"/{args['pattern']}/ did not match the answer")


def _safe_flags(flags: Any) -> str:
    return flags if isinstance(flags, str) and set(flags) <= set("imsx") else ""


def _heading_text(arg: str) -> str:
    return re.sub(r"^#+\s*", "", arg).strip()


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")


def iter_sections(text: str) -> Iterator[tuple[int, str, str]]:
    """Yield ``(depth, heading, body)``; a body runs to the next heading of equal or less depth."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if not m:
            continue
        depth = len(m.group(1))
        body: list[str] = []
        for nxt in lines[i + 1 :]:
            n = _HEADING.match(nxt)
            if n and len(n.group(1)) <= depth:
                break
            body.append(nxt)
        yield depth, m.group(2).strip(), "\n".join(body)


class SectionPresent(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"heading": Param("str")}

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        h = args.get("heading")
        if isinstance(h, str) and not _heading_text(h):
            return [("heading", "must not be empty")]
        return []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        want = _heading_text(args["heading"]).casefold()
        ok = any(h.casefold() == want for _, h, _ in iter_sections(evidence.final_answer))
        return Verdict.of(ok, f"heading {want!r} {'present' if ok else 'missing'}")


class SectionContains(SectionPresent):
    params: ClassVar[Mapping[str, Param]] = {"heading": Param("str"), "value": Param("str")}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        want = _heading_text(args["heading"]).casefold()
        bodies = [b for _, h, b in iter_sections(evidence.final_answer) if h.casefold() == want]
        if not bodies:
            return Verdict.of(False, f"heading {want!r} missing")
        ok = any(args["value"].casefold() in b.casefold() for b in bodies)
        return Verdict.of(ok, f"{args['value']!r} {'found' if ok else 'not found'} under {want!r}")


class MaxChars(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {"value": Param("int", minimum=0)}

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = len(evidence.final_answer)
        return Verdict.of(n <= args["value"], f"answer has {n} chars (max {args['value']})")


class MinChars(MaxChars):
    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = len(evidence.final_answer)
        return Verdict.of(n >= args["value"], f"answer has {n} chars (min {args['value']})")


class NoRefusal(BaseCheck):
    """Fails on an empty answer too: silence is not an answer."""

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        if not evidence.final_answer.strip():
            return Verdict.of(False, "answer is empty")
        m = REFUSAL_PATTERN.search(evidence.final_answer)
        if m:
            return Verdict.of(False, f"refusal: {clip(m.group(0).strip(), 60)!r}")
        return Verdict.of(True, "no refusal")


class MinCitations(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "value": Param("int", minimum=0),
        "pattern": Param("str", required=False, default=CITATION_PATTERN),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        problem = regex_problem(args.get("pattern", CITATION_PATTERN))
        return [("pattern", problem)] if problem else []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        n = count_citations(evidence.final_answer, args["pattern"])
        return Verdict.of(n >= args["value"], f"{n} citation(s) (min {args['value']})")


def count_citations(text: str, pattern: str = CITATION_PATTERN) -> int:
    """Non-overlapping matches, so ``[x](topics/a)`` counts once, not as a link and a slug."""
    return sum(1 for _ in re.finditer(pattern, text))


class Qrels(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "expected_slugs": Param("str_list"),
        "k": Param("int", minimum=1),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        if args.get("expected_slugs") == []:
            return [("expected_slugs", "must list at least one slug")]
        return []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        expected = [s.strip("/") for s in args["expected_slugs"]]
        k = args["k"]
        ranked = retrieved_slugs(evidence)
        if not ranked:
            return Verdict(False, 0.0, "no slugs retrieved or cited")
        top = ranked[:k]
        score = ndcg_at_k(top, set(expected), k)
        missing = [s for s in expected if s not in top]
        ok = not missing
        why = f"nDCG@{k}={score:.3f}; " + ("all expected in top k" if ok else f"missing {missing}")
        return Verdict(ok, score, why)


def ndcg_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    """Binary-relevance nDCG@k: rewards finding the pages and finding them early."""
    dcg = sum(1.0 / math.log2(i + 2) for i, s in enumerate(ranked[:k]) if s in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def retrieved_slugs(evidence: TrialEvidence) -> list[str]:
    """Slugs in rank order: from non-error tool outputs first, then the answer's citations."""
    out: list[str] = []
    for call in evidence.tool_calls:
        if not call.is_error:
            out.extend(_slugs_in_output(call.output))
    out.extend(m.group(0) for m in re.finditer(SLUG_PATTERN, evidence.final_answer, re.IGNORECASE))
    return list(dict.fromkeys(out))


def _slugs_in_output(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return [m.group(0) for m in re.finditer(SLUG_PATTERN, text, re.IGNORECASE)]
    return list(_walk_slugs(data))


def _walk_slugs(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        if isinstance(data.get("slug"), str):
            yield data["slug"].strip("/")
        for key in ("results", "pages", "matches", "hits"):
            if isinstance(data.get(key), list):
                yield from _walk_slugs(data[key])
    elif isinstance(data, list):
        for item in data:
            yield from _walk_slugs(item)
    elif isinstance(data, str) and re.fullmatch(SLUG_PATTERN, data, re.IGNORECASE):
        yield data
