"""A fake agent as one unit: this module, its Dockerfile folder (``fake_cli/``) and one line
in ``controllers.profiles.REGISTRY`` are all it takes (tests/agents/test_agent_unit.py).

Its "CLI" is a shell script: an idle prompt ``fake> ``, a busy marker while it thinks, an
answer, and the completion hook. No wire API, so the runner starts no Gateway for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from controllers.profiles.base import AGENT_HOME, ImageBuild, LaunchContext, LaunchSpec, ProfileSpec
from controllers.profiles.common import FileProfile
from harness.episode import Episode, Turn

SPEC = ProfileSpec(
    name="fake",
    image="fake-agent",
    binary="fake-cli",
    args=(),
    env={},
    idle=(r"^fake>\s*$",),
    busy=(r"esc to interrupt",),
    dialogs=(),
    blocking_hints=(),
    memory_file="AGENTS.md",
    user_skills_dir="~/.agents/skills",
    project_skills_dir=".agents/skills",
    transcript_glob=f"{AGENT_HOME}/.fake/session.jsonl",
    image_build=ImageBuild(build_args={"FAKE_CLI_VERSION": "1.0.0"},
                           context=Path(__file__).with_name("fake_cli")),
    default_model="fake-1",
    wire_api=None,
    completion="hook",
    home_state=(".fake",),
)


class FakeProfile(FileProfile):
    spec = SPEC

    def launch(self, ctx: LaunchContext) -> LaunchSpec:
        return LaunchSpec([SPEC.binary], self.harness_env(ctx), ctx.workdir)

    def parse_transcript(self, path: Path) -> Episode:
        """One JSON line per turn: ``{"user": ..., "answer": ...}``."""
        ep = Episode(agent=SPEC.name, model=SPEC.default_model)
        for raw in path.read_text().splitlines():
            d = json.loads(raw)
            ep.turns.append(Turn(index=len(ep.turns), user_text=d["user"], texts=[d["answer"]],
                                 final_text=d["answer"]))
        return ep
