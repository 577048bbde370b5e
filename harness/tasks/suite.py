"""A loaded Suite: the tasks, the suite-level settings, and selection by split/tag/id.

A frozen value: selecting (``by_split``, ``select``) returns a new Suite, so the runner can
hand a filtered suite around without anyone mutating the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.tasks.schema import SPLITS, SuiteConfig, Task


@dataclass(frozen=True)
class Suite:
    """Tasks loaded from a folder or file, plus ``suite.yaml`` settings when present."""

    root: Path
    tasks: tuple[Task, ...]
    config: SuiteConfig = field(default_factory=lambda: SuiteConfig.model_validate({}))

    @property
    def name(self) -> str:
        """The suite's name: ``suite.yaml`` ``name``, else the folder/file name."""
        return self.config.name or (self.root.stem if self.root.is_file() else self.root.name)

    @property
    def agent(self) -> str | None:
        """The default agent named by ``suite.yaml`` (the CLI flag wins over it)."""
        return self.config.agent

    @property
    def trials(self) -> int | None:
        """Attempts per task and variant named by ``suite.yaml`` (``--trials`` wins over it)."""
        return self.config.trials

    @property
    def variants(self) -> dict[str, Path]:
        """Variant name -> folder of skill/memory files, resolved against suite.yaml."""
        base = self.root if self.root.is_dir() else self.root.parent
        return {k: (base / v).resolve() for k, v in self.config.variants.items()}

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tasks]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def get(self, task_id: str) -> Task:
        """The task with this id; a miss names the known ids."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise ConfigError(f"no task {task_id!r} in suite {self.name}", hint=self._known())

    def _known(self) -> str:
        """The hint of a miss: the ids a user could have meant (the first 20)."""
        return f"known: {', '.join(self.ids[:20])}"

    def by_split(self, *splits: str) -> Suite:
        """Only the tasks of these splits (train, heldout, frozen)."""
        bad = [s for s in splits if s not in SPLITS]
        if bad:
            raise ConfigError(f"unknown split {bad[0]!r}", hint=f"use one of {', '.join(SPLITS)}")
        return replace(self, tasks=tuple(t for t in self.tasks if t.split in splits))

    def select(
        self,
        *,
        splits: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        ids: Iterable[str] | None = None,
    ) -> Suite:
        """Tasks matching every given filter (tags: any of them; ids: exact)."""
        out = self.by_split(*splits) if splits else self
        if tags:
            wanted = set(tags)
            out = replace(out, tasks=tuple(t for t in out.tasks if wanted & set(t.tags)))
        if ids:
            want = list(ids)
            missing = [i for i in want if i not in self.ids]
            if missing:
                raise ConfigError(f"no task {missing[0]!r} in suite {self.name}", hint=self._known())
            out = replace(out, tasks=tuple(t for t in out.tasks if t.id in want))
        return out

    def split_counts(self) -> dict[str, int]:
        """How many tasks each split holds (all three keys present)."""
        counts = dict.fromkeys(SPLITS, 0)
        for t in self.tasks:
            counts[t.split] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (what ``harness tasks validate --json`` prints)."""
        return {
            "suite": self.name,
            "root": str(self.root),
            "tasks": len(self.tasks),
            "splits": self.split_counts(),
            "variants": {k: str(v) for k, v in self.variants.items()},
            "agent": self.agent,
            "ids": self.ids,
        }
