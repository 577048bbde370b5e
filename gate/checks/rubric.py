"""The rubric check: an LLM judge reached through the anthropic SDK.

Why these choices:
- The judge talks to whatever ``base_url`` the context names (the harness Gateway, or a stub
  in tests), never to a hard-wired vendor host, so a replay is reproducible and keyless.
- Judgments are cached on disk by a SHA-256 of (prompt version, model, rubric, answer): a
  re-report or a re-gate of the same run costs nothing and gives the same verdict.
- Retries are bounded (tenacity) and only for transient failures. A judge that stays
  unreachable, or keeps replying with something we cannot parse, makes the check
  *unscorable* (``passed=None``): a night without a judge must never reject a candidate.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import anthropic
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from gate.checks.base import BaseCheck, CheckContext, Param, Verdict
from gate.models import TrialEvidence

PROMPT_VERSION = "gate-rubric-v1"

JUDGE_SYSTEM = (
    "You grade an AI agent's answer against a rubric. Reply with one JSON object and nothing "
    'else: {"score": <number from 0 to 1>, "reason": "<one sentence>"}.'
)


class JudgeReplyError(Exception):
    """The judge answered, but not with a usable score (retried, then unscorable)."""


_TRANSIENT = (
    anthropic.APIConnectionError,  # includes APITimeoutError
    anthropic.RateLimitError,
    anthropic.InternalServerError,
    JudgeReplyError,
)


def parse_judge_reply(text: str) -> tuple[float, str]:
    """``(score, reason)`` from the judge's text; tolerates code fences and chatter around it."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL | re.IGNORECASE)
    body = fenced.group(1) if fenced else text
    candidates = [body.strip()] + re.findall(r"\{.*?\}", body, re.DOTALL)
    for chunk in candidates:
        try:
            data = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(data, dict) and "score" in data:
            try:
                score = float(data["score"])
            except (TypeError, ValueError):
                raise JudgeReplyError(f"score is not a number: {data['score']!r}") from None
            if math.isnan(score):
                raise JudgeReplyError("score is NaN")
            reason = data.get("reason", data.get("rationale", ""))
            return min(1.0, max(0.0, score)), str(reason)
    raise JudgeReplyError(f"no JSON object with a score in the reply: {text[:120]!r}")


def cache_key(model: str, rubric: str, answer: str) -> str:
    blob = json.dumps([PROMPT_VERSION, JUDGE_SYSTEM, model, rubric, answer], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _cache_read(cache_dir: Path | None, key: str) -> tuple[float, str] | None:
    if cache_dir is None:
        return None
    path = cache_dir / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return float(data["score"]), str(data["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_write(cache_dir: Path | None, key: str, score: float, reason: str) -> None:
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"  # parallel trials
    tmp.write_text(json.dumps({"score": score, "reason": reason}), encoding="utf-8")
    tmp.replace(cache_dir / f"{key}.json")


def ask_judge(ctx: CheckContext, model: str, rubric: str, answer: str) -> tuple[float, str]:
    """One judgment, with bounded retries. Raises the last error when they run out."""
    client = anthropic.Anthropic(
        base_url=ctx.judge_base_url,
        api_key=ctx.judge_api_key,
        max_retries=0,  # tenacity owns retries, so the bound is ours
        timeout=ctx.judge_timeout_sec,
    )
    user = f"RUBRIC:\n{rubric}\n\nANSWER:\n{answer}\n\nGrade the answer. JSON only."
    retrying = Retrying(
        stop=stop_after_attempt(max(1, ctx.judge_max_attempts)),
        wait=wait_exponential(multiplier=ctx.judge_retry_wait_sec, max=10),
        retry=retry_if_exception_type(_TRANSIENT),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                msg = client.messages.create(
                    model=model,
                    max_tokens=300,
                    system=JUDGE_SYSTEM,
                    messages=[{"role": "user", "content": user}],
                )
                text = "".join(getattr(b, "text", "") for b in msg.content)
                return parse_judge_reply(text)
    finally:
        client.close()
    raise RetryError(None)  # type: ignore[arg-type]  # unreachable: reraise=True


class Rubric(BaseCheck):
    params: ClassVar[Mapping[str, Param]] = {
        "rubric": Param("str"),
        "threshold": Param("number", required=False, default=0.5, minimum=0.0, maximum=1.0),
        "model": Param("str", required=False, default=None),
    }

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        r = args.get("rubric")
        return [("rubric", "must not be empty")] if isinstance(r, str) and not r.strip() else []

    def run(self, args: Mapping[str, Any], evidence: TrialEvidence, ctx: CheckContext) -> Verdict:
        model = args["model"] or ctx.judge_model
        key = cache_key(model, args["rubric"], evidence.final_answer)
        cached = _cache_read(ctx.judge_cache_dir, key)
        if cached is None:
            if not ctx.judge_base_url:
                return Verdict.unscorable("no judge configured (judge_base_url is unset)")
            try:
                cached = ask_judge(ctx, model, args["rubric"], evidence.final_answer)
            except JudgeReplyError as exc:
                return Verdict.unscorable(f"judge reply unusable: {exc}")
            except anthropic.APIError as exc:
                return Verdict.unscorable(f"judge unreachable: {type(exc).__name__}: {exc}")
            _cache_write(ctx.judge_cache_dir, key, *cached)
        score, reason = cached
        ok = score >= float(args["threshold"])
        return Verdict(ok, score, f"judge {score:.2f} (threshold {args['threshold']}): {reason}")
