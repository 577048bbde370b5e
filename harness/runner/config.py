"""``RunConfig``: everything that decides what a run does, as one validated model.

Why a model and not the CLI's locals: ``harness run`` is one way in; a script, the Ray
executor or ``--resume`` are others, and they must mean the same thing. The run folder's
``run.json`` and the store keep this model as JSON, so ``--resume RUN`` re-reads exactly
what the first invocation resolved (agent, trials, model name), not today's defaults.
Stored configs written before this model (``model`` for the mode, no ``keep``...) are
read by :meth:`RunConfig.from_stored`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError

ModelMode = Literal["scripted", "record", "replay", "live"]
MODEL_MODES: tuple[str, ...] = ("scripted", "record", "replay", "live")
#: the variant a run gets when neither the command line nor suite.yaml names one: the agent
#: as it comes, no skill or memory file (a plain benchmark run)
BARE_VARIANT = "bare"
#: keys of stored configs older than RunConfig, mapped to today's names
_RENAMED = {"model": "model_mode", "gate_policy_file": "gate_policy"}


class RunConfig(BaseModel):
    """What to run and how; paths are absolute once :meth:`resolved` ran."""

    model_config = ConfigDict(extra="forbid")

    suite: Path
    agent: str | None = None
    #: name -> path (a skill folder, a SKILL.md / CLAUDE.md / AGENTS.md, or "none"); the
    #: first is the baseline; empty: suite.yaml's, else one bare variant
    variants: dict[str, str] = Field(default_factory=dict)
    trials: int | None = Field(None, ge=1)
    concurrency: int | None = Field(None, ge=1)
    model_mode: ModelMode = "scripted"
    model_name: str | None = None
    cassette: Path | None = None
    #: the scripted model's rules for every task (wins over the tasks' own ``script:``)
    script: Path | None = None
    budget_tokens: int | None = Field(None, ge=0)
    split: str | None = None
    tasks: list[str] | None = None
    timeout: float | None = None
    keep: bool = False
    #: a new container for every trial (no warm reuse of a task's container)
    fresh_sandbox: bool = False
    #: where trials run: a sandbox provider's registry name (docker, local) or module:Class
    provider: str = "docker"
    #: how trials are scheduled: "local" (this machine) or "ray" (a Ray cluster's Docker
    #: hosts); stored, so ``--resume`` schedules the same way
    executor: Literal["local", "ray"] = "local"
    #: the Ray cluster (host:port of its head); None: a new one-node cluster on this machine
    ray_address: str | None = None
    gate_policy: Path | None = None

    @classmethod
    def build(cls, **fields: Any) -> RunConfig:
        """A config from the command line (or any caller); a bad value is one line naming
        its option, never a pydantic traceback."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            flag = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "run config"
            raise ConfigError(f"{flag}: {first['msg']}") from None

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> RunConfig:
        """A stored config, old or new; a config this code cannot read is one line."""
        d = {_RENAMED.get(k, k): v for k, v in data.items()}
        try:
            return cls.model_validate(d)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ConfigError(f"stored run config: {where}: {first['msg']}",
                              hint="it was written by another harness version") from None

    def check(self) -> None:
        """Input errors a user can fix, one line each, before anything starts."""
        if self.timeout is not None and not (0 < self.timeout < math.inf):
            raise ConfigError(f"--timeout must be a number of seconds > 0, got {self.timeout:g}",
                              hint="e.g. --timeout 300, or leave it out to use each task's timeout_sec")
        if self.executor == "ray" and self.model_mode == "record":
            raise ConfigError("--model-mode record writes one cassette on one machine: not with --executor ray",
                              hint="record with --executor local, then replay the cassette on the cluster")
        if self.ray_address is not None and self.executor != "ray":
            raise ConfigError("--ray-address needs --executor ray")

    def stored(self) -> dict[str, Any]:
        """The JSON kept in run.json and the store (paths as strings)."""
        return self.model_dump(mode="json")


def parse_mode(mode: str) -> ModelMode:
    """A model mode from the command line; unknown ones named with the known ones."""
    if mode not in MODEL_MODES:
        raise ConfigError(f"--model-mode {mode!r} unknown", hint=f"use one of {', '.join(MODEL_MODES)}")
    return mode  # type: ignore[return-value]


def parse_variant_flags(flags: list[str] | None) -> dict[str, str]:
    """``NAME=PATH`` flags, in order (PATH may be ``none``)."""
    out: dict[str, str] = {}
    for item in flags or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--variant {item!r} must be NAME=PATH (PATH may be 'none')")
        out[name] = path
    return out
