"""Grouping sessions by intent: near-duplicate prompts across sessions become one group.

Why a normalised text ratio and no embeddings: mining must run offline with nothing but
the digests, and the same request retyped ("fix add() in calc.py" / "Fix add in calc.py
please") differs in case, punctuation, numbers and filler far more often than in meaning.
The ratio is difflib's over word tokens; a session joins the first group whose anchor
(its oldest session) is at least ``threshold`` similar. Groups are ordered by their oldest
session, so the same digests always give the same groups.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from harness.harvest.digest import Digest

_REDACTED = re.compile(r"\[REDACTED\]")
_WORD = re.compile(r"[a-z0-9_]+")


def normalise(text: str) -> list[str]:
    """Lower-case word tokens, numbers as ``0``, redaction markers dropped."""
    t = _REDACTED.sub(" ", text.lower())
    return [re.sub(r"\d+", "0", w) for w in _WORD.findall(t)]


def intent_text(d: Digest) -> str:
    """What a session asked: its prompts, in order."""
    return "\n".join(d.prompts)


def similarity(a: str, b: str) -> float:
    """0..1: how alike two prompts are once normalised (1.0 for the same words)."""
    ta, tb = normalise(a), normalise(b)
    if not ta and not tb:
        return 1.0
    return SequenceMatcher(None, ta, tb, autojunk=False).ratio()


@dataclass
class Group:
    """Sessions with the same intent; ``anchor`` is the oldest (it names the group)."""

    anchor: Digest
    members: list[Digest] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Stable across nights while the anchor session is in the store."""
        norm = " ".join(normalise(intent_text(self.anchor)))
        return hashlib.sha256(norm.encode()).hexdigest()[:10]

    @property
    def occurrences(self) -> int:
        return len(self.members)


def group_digests(digests: list[Digest], threshold: float) -> list[Group]:
    """Greedy single pass, oldest session first: each joins the most similar group at or
    above ``threshold`` (ties: the older group), else starts one."""
    ordered = sorted(digests, key=lambda d: (d.started_at is None, d.started_at, d.id))
    groups: list[Group] = []
    for d in ordered:
        text = intent_text(d)
        best, best_score = None, threshold
        for g in groups:
            s = similarity(text, intent_text(g.anchor))
            if s >= best_score and (best is None or s > best_score):
                best, best_score = g, s
        if best is None:
            groups.append(Group(anchor=d, members=[d]))
        else:
            best.members.append(d)
    return groups
