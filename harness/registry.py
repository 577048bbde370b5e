"""One registry helper for every "name -> implementation" table in the house.

Why one class: agent profiles, check ops, task importers (and sandbox providers) each kept
their own dict plus their own lookup, with slightly different misses. A ``Registry`` maps
names to ``"module:attr"`` strings and imports lazily, so a broken optional entry cannot
break the others and a miss can list every known name; ``"module:attr"`` itself is accepted
for what a user brings. It sits beside :mod:`harness.errors` on the ground floor: it
imports nothing of the house, so controllers and the gate may use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Generic, TypeVar, cast

from harness.errors import ConfigError

T = TypeVar("T")


class Registry(MutableMapping[str, str], Generic[T]):
    """Names -> ``"module:attr"``, resolved on first use.

    ``kind`` words the errors ("unknown agent 'x'"); ``allow_path`` says whether a
    ``"module:attr"`` the user typed is accepted in place of a registered name. It is a
    mapping of the raw targets too, so listing, ``in`` and a test's ``monkeypatch.setitem``
    work as on the plain dicts it replaces.
    """

    def __init__(self, kind: str, entries: Mapping[str, str] | None = None, *,
                 allow_path: bool = True) -> None:
        self.kind = kind
        self.allow_path = allow_path
        self._entries: dict[str, str] = dict(entries or {})

    def register(self, name: str, target: str) -> None:
        """Add (or replace) one entry: the one line a new implementation needs."""
        if ":" not in target:
            raise ConfigError(f"{self.kind} {name!r}: target {target!r} is not module:attr")
        self._entries[name] = target

    def names(self) -> list[str]:
        return list(self._entries)

    def target(self, name: str) -> str:
        """The ``module:attr`` behind ``name``; a miss names every known entry."""
        found = self._entries.get(name)
        if found is not None:
            return found
        if self.allow_path and ":" in name:
            return name
        extra = " (or module:Class)" if self.allow_path else ""
        raise ConfigError(f"unknown {self.kind} {name!r}",
                          hint=f"known: {', '.join(sorted(self._entries))}{extra}")

    def load(self, name: str) -> T:
        """The imported attribute (a class or a function) for ``name``."""
        target = self.target(name)
        module, _, attr = target.partition(":")
        try:
            return cast(T, getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{self.kind} {name!r} ({target}) cannot be loaded: {exc}") from exc

    def __getitem__(self, name: str) -> str:
        return self._entries[name]

    def __setitem__(self, name: str, target: str) -> None:
        self.register(name, target)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
