"""Agent profiles by name: claude, codex, and the shell agents (oracle, noop).

An agent is one unit: its module holds a ``ProfileSpec`` (image and pinned CLI version,
env, skill and memory places, default model, wire API, completion signal, home state,
screens and dialogs) and a ``FileProfile`` subclass (config files, launch line, transcript
parser). Adding one is that module, its Dockerfile folder, and one line in ``REGISTRY``;
everything else (the CLI's agent lists, image planning, the runner) reads the registry.

The registry maps names to ``module:Class``, imported lazily; a miss lists the known names;
a ``module:Class`` given as the name is accepted for a user-provided profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from controllers.profiles.base import AgentProfile, ImageBuild
from harness.episode import Episode
from harness.errors import ConfigError
from harness.registry import Registry

REGISTRY: Registry[Any] = Registry("agent", {
    "claude": "controllers.profiles.claude:ClaudeProfile",
    "codex": "controllers.profiles.codex:CodexProfile",
    "gemini": "controllers.profiles.gemini:GeminiProfile",
    "opencode": "controllers.profiles.opencode:OpencodeProfile",
    "aider": "controllers.profiles.aider:AiderProfile",
    "qwen": "controllers.profiles.qwen:QwenProfile",
    "oracle": "controllers.profiles.shell:OracleProfile",
    "noop": "controllers.profiles.shell:NoopProfile",
})
#: kept for importers; the runner reads ``spec.completion == "shell"`` instead of names
SHELL_AGENTS = ("oracle", "noop")

_EXTERNAL: dict[str, AgentProfile] = {}  # module:Class profiles loaded this process (their images)


def names() -> tuple[str, ...]:
    """The registered agent names, in registry order (for help texts and listings)."""
    return tuple(REGISTRY)


def get_profile(name: str) -> AgentProfile:
    """The profile of agent ``name`` (a registered name or ``module:Class``)."""
    cls = REGISTRY.load(name)  # a miss lists the known names; module:Class is accepted
    target = REGISTRY.target(name)
    try:
        profile = cls()
    except TypeError as exc:
        raise ConfigError(f"agent profile {target!r} cannot be made: {exc}") from exc
    if not isinstance(profile, AgentProfile):
        missing = [m for m in _MEMBERS if not hasattr(profile, m)]
        raise ConfigError(f"agent profile {target!r} lacks {', '.join(missing)}",
                          hint="derive it from controllers.profiles.common.FileProfile")
    if name not in REGISTRY:
        _EXTERNAL[name] = profile
    return profile


_MEMBERS = ("spec", "needs_gateway", "home_state", "files", "configure", "launch", "install_variant",
            "turns", "parse_transcript")


def loaded() -> dict[str, AgentProfile]:
    """Every registered profile, plus the ``module:Class`` ones loaded so far."""
    return {**{n: get_profile(n) for n in REGISTRY}, **_EXTERNAL}


def image_builds() -> dict[str, ImageBuild]:
    """image name -> how to build it, for every agent image (harness.images plans from it)."""
    out: dict[str, ImageBuild] = {}
    for name, p in loaded().items():
        build = p.spec.image_build
        if build is None:
            continue
        chain: list[tuple[str, ImageBuild]] = []
        image: str | None = p.spec.image
        while build is not None and image is not None:  # the image, then its shared parents
            chain.append((image, build))
            image, build = build.parent, build.parent_build
        for image, build in reversed(chain):  # parents first, as they are built
            if image in out and out[image] != build:
                raise ConfigError(f"agent {name!r} builds image {image!r} differently from another agent",
                                  hint="give each agent image one ImageBuild, or its own image name")
            out[image] = build
    return out


def home_state() -> tuple[str, ...]:
    """Absolute paths under the agent's home any registered agent leaves behind: what a warm
    reset wipes between trials, whichever agent ran before."""
    return tuple(dict.fromkeys(path for p in loaded().values() for path in p.home_state))


V = TypeVar("V")


class RegistryView(Mapping[str, V]):
    """A read-only name -> value view over the registry, evaluated on each access, so a
    profile registered later (a test's, a plugin's) is seen; entries whose value is empty
    are left out. Old tables (``DEFAULT_MODEL``, ``PARSERS``) are such views."""

    def __init__(self, read: Callable[[AgentProfile], V | None]) -> None:
        self._read = read

    def _value(self, name: str) -> V | None:
        if name not in REGISTRY and name not in _EXTERNAL and ":" not in name:
            return None
        try:
            return self._read(get_profile(name))
        except ConfigError:
            return None

    def __getitem__(self, name: str) -> V:
        v = self._value(name)
        if not v:
            raise KeyError(name)
        return v

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in (*REGISTRY, *_EXTERNAL) if self._value(n)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


#: agent -> the model name its CLI asks for unless told (``run --model-name``)
DEFAULT_MODELS: RegistryView[str] = RegistryView(lambda p: p.spec.default_model)


#: agent -> its transcript parser (each profile's ``parse_transcript``; kept under the name
#: ``harness.episode.PARSERS`` had before the parsers moved with their agents)
PARSERS: RegistryView[Callable[[Path], Episode]] = RegistryView(lambda p: p.parse_transcript)


def parse_transcript(agent: str, path: Path) -> Episode:
    """The Episode of one session file of ``agent``; an empty Episode when it is missing."""
    if not path.exists():
        return Episode(agent=agent)
    return get_profile(agent).parse_transcript(path)
