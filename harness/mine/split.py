"""Splitting mined tasks into train / heldout / frozen, by group.

Why by group: the tasks of one intent (one per start commit) are near copies; one in train
and one in heldout would leak the held-out answer into optimisation. Why a seeded hash rank
and not a shuffle: a group keeps its split when new groups arrive on later nights (the
rank of existing groups relative to each other never changes), so a held-out task stays
held out. ``frozen`` ids (and every task of their group) are frozen whatever the hash says.
"""

from __future__ import annotations

import hashlib


def assign(
    group_tasks: dict[str, list[str]], fraction: float, seed: int, frozen: set[str]
) -> dict[str, str]:
    """task id -> split, given group key -> its task ids."""
    out: dict[str, str] = {}
    free = []
    for key, ids in group_tasks.items():
        if frozen & set(ids):
            out.update(dict.fromkeys(ids, "frozen"))
        else:
            free.append(key)
    ranked = sorted(free, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    n_held = round(fraction * len(ranked))
    if fraction > 0 and n_held == 0 and len(ranked) >= 2:
        n_held = 1
    if n_held >= len(ranked) and fraction < 1 and len(ranked) >= 2:
        n_held = len(ranked) - 1  # keep something to train on
    for i, key in enumerate(ranked):
        out.update(dict.fromkeys(group_tasks[key], "heldout" if i < n_held else "train"))
    return out
