"""Sandbox settings, validated once at the boundary (pydantic, ``extra="forbid"``).

Why pydantic here: limits come from CLI flags and config files written by people; a typo
(``memory: 2 gigs``) must be rejected naming the field before any container starts.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import ConfigError

_MEM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[bB]?\s*$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: str | int) -> int:
    """'512m' / '2g' / bytes -> bytes. Raises ValueError with the accepted forms."""
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be positive")
        return value
    m = _MEM.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a size; use e.g. 512m, 2g or a byte count")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


class SandboxLimits(BaseModel):
    """Resource limits. Defaults fit an agent CLI (node, ~0.5 GB) with room for its tools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str = "2g"
    pids: int = Field(default=1024, ge=16, le=1_000_000)
    cpus: float = Field(default=2.0, gt=0, le=256)

    @field_validator("memory")
    @classmethod
    def _mem_ok(cls, v: str) -> str:
        if parse_memory(v) < 16 * 1024**2:
            raise ValueError("must be at least 16m")
        return v

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)


class DockerSandboxConfig(BaseModel):
    """How to start one sandbox container."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = "harness/base:latest"
    workdir: str = "/workspace"
    user: str = "agent"
    network: str = "none"  # "none" (default: no egress) or a docker network name
    limits: SandboxLimits = SandboxLimits()
    env: dict[str, str] = Field(default_factory=dict)
    run_id: str = "adhoc"
    name_prefix: str = "harness"
    start_timeout_sec: float = Field(default=60.0, gt=0)

    @field_validator("workdir")
    @classmethod
    def _abs(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must be an absolute path inside the container")
        return v


def validated(model: type[BaseModel], data: dict[str, object], where: str = "sandbox") -> BaseModel:
    """Build a config model, turning pydantic's error into one line that names the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{where}.{loc}: {err['msg']}") from exc
