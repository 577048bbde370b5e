"""Validating check specs before anything runs, with their file and line.

The gate owns the check vocabulary: its check registry (``gate.checks.REGISTRY``) says which
ops exist and each check declares its arguments, so ``gate.checks.validate_checks`` is the
one validator. This module only places each of its errors at ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.errors import LocatedError

Validator = Callable[[list[dict[str, Any]], str], list[LocatedError]]

_INDEX = re.compile(r"\.checks\[(\d+)\]")


def validate_check_list(
    specs: list[Any],
    prefix: str,
    where_of: Callable[[int], str],
    *,
    validator: Validator | None = None,
) -> list[LocatedError]:
    """Validate specs with the gate's validator and place each error.

    The validator locates errors by field (``t1.checks[2].pattern``); ``where_of(i)`` turns
    the check index into ``file:line``, so the message keeps the field and the location
    gains the line.
    """
    if validator is None:
        from gate.checks import validate_checks  # the gate's registry is the vocabulary

        validator = validate_checks
    out: list[LocatedError] = []
    for err in validator(list(specs), prefix):
        m = _INDEX.search(err.where)
        loc = where_of(int(m.group(1))) if m else where_of(-1)
        out.append(LocatedError(loc, f"{err.where}: {err.message}"))
    return out
