"""Session files made by the real claude and codex CLIs, for the harvest tests.

Why not hand-written transcripts: the harvest readers must follow the CLIs' real formats,
which drift between versions; a fixture typed by hand would only test our idea of them.
So each CLI runs (in the harness's own container, on the scripted Gateway, through
``run_trial``) in a small git repo with several commits: one session fixes a bug and runs
the tests (a failing run, then a passing one), reads a file full of planted secrets, and
answers; a second, shorter session comes later (for incremental harvests). The session files
are copied out of the container as they are, and ``Generated.install`` lays them out in a
fake ``~/.claude`` / ``~/.codex`` tree whose ``cwd`` points at a host copy of the repo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTAINER_WORKDIR = "/workspace"

#: one of each kind the redactor must catch; the values are fake but shaped like the real thing
SECRETS = {
    "openai": "sk-proj-Qw3rTy7UiOp9AsDfGh2JkLzXcVbNm4Q8wErTyUiOp",
    "anthropic": "sk-ant-api03-Zx8Cv7Bn6Mq5Lw4Ke3Jr2Hd1Gs0FaPoIuYtReWq",
    "aws": "AKIAQ3EXAMPLE7HARVST",
    "github": "ghp_Hv9Tq2Wx7Zr4Lm8Np3Ks6Jd1Fb5Gc0Ya2Xe",
    "slack": "xoxb-203948572019-8827364510-QpWoEiRuTyAlSkDjFhGz",
    "google": "AIzaSyB7xQ2mW9kLp4RzT6vN8cY1dF3gH5jK0sA",
    "bearer": "4f9aQ7zLk2Xw8Rt6Yp3Mn5Bv1Cd0Ee9Ff7Gg",
    "basic": "aGFydmVzdDpwbGFudGVkLXBhc3N3b3JkLTQy",
    "jwt": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJoYXJ2ZXN0LXRlc3QiLCJuYW1lIjoiUGxhbnRlZCJ9"
        ".Xk2pQ9rT7vW4yZ1aB3cD5eF7gH9iJ0kL2mN4oP6qR8s"
    ),
    "json_password": "plain-hunter2-harvest-77",
    "json_client_secret": "clientsecret-value-harvest-31",
}

DEPLOY_ENV = (  # neutral names: each value must be caught by its own shape
    f"slot1={SECRETS['openai']}\n"
    f"slot2={SECRETS['anthropic']}\n"
    f"slot3={SECRETS['aws']}\n"
    f"slot4={SECRETS['github']}\n"
    f"slot5={SECRETS['slack']}\n"
    f"slot6={SECRETS['google']}\n"
    f'settings: {{"password": "{SECRETS["json_password"]}", "region": "eu-west-1"}}\n'
    f"curl -H 'Authorization: Basic {SECRETS['basic']}' https://example.invalid\n"
)

PROMPT_FIX = (
    "add() in calc.py returns the wrong result. Fix it and run the tests. "
    f"(For the deploy later: use the header `Authorization: Bearer {SECRETS['bearer']}`; "
    f'the app config is {{"client_secret": "{SECRETS["json_client_secret"]}"}}.)'
)
PROMPT_SHOW = "Show me what deploy.env holds."
PROMPT_LATER = "What does mul() in calc.py do?"
ANSWER_FIX = "Fixed add(): it subtracted instead of adding. All 2 tests pass now."
ANSWER_SHOW = f"deploy.env holds the deploy keys; the session token is {SECRETS['jwt']}."
ANSWER_LATER = "mul(a, b) multiplies its two arguments."

SKILL = "calc-explainer"
SKILL_MD = f"---\nname: {SKILL}\ndescription: Explains calc.py.\n---\nName each argument.\n"
TEST_CMD = "python3 -m unittest -v test_calc"
FIX_CMD = "sed -i 's/return a - b/return a + b/' calc.py && " + TEST_CMD


def _policy(agent: str) -> dict[str, Any]:
    """The scripted model: run the tests (red), fix and re-run (green), then answer; the
    second turn reads deploy.env. Claude also writes a notes file with its Write tool."""
    after_fix: dict[str, Any] = {"text": ANSWER_FIX}
    # the later session uses the installed skill: claude through its Skill tool, codex by
    # reading the SKILL.md (that is how codex uses skills)
    skill_dir = {"gemini": "~/.gemini/skills", "qwen": "~/.qwen/skills"}.get(agent, "~/.agents/skills")
    skill_call: dict[str, Any] = (
        {"tool": "Skill", "input": {"skill": SKILL}}
        if agent == "claude"
        else {"shell": f"cat {skill_dir}/{SKILL}/SKILL.md", "description": "read skill"}
    )
    rules: list[dict[str, Any]] = [
        {
            "name": "red",
            "match": {"user": "returns the wrong result", "step": 0},
            "reply": {
                "text": "Running the tests first.",
                "calls": [{"shell": TEST_CMD, "description": "run tests"}],
            },
        },
        {
            "name": "fix",
            "match": {"user": "returns the wrong result", "step": 1},
            "reply": {"calls": [{"shell": FIX_CMD, "description": "fix add and re-run the tests"}]},
        },
    ]
    if agent == "claude":
        rules.append(
            {
                "name": "notes",
                "match": {"user": "returns the wrong result", "step": 2},
                "reply": {
                    "calls": [
                        {
                            "tool": "Write",
                            "input": {
                                "file_path": f"{CONTAINER_WORKDIR}/NOTES.md",
                                "content": "add() fixed\n",
                            },
                        }
                    ]
                },
            }
        )
        rules.append(
            {
                "name": "done",
                "match": {"user": "returns the wrong result", "step": 3},
                "reply": after_fix,
            }
        )
    else:
        rules.append(
            {
                "name": "done",
                "match": {"user": "returns the wrong result", "step": 2},
                "reply": after_fix,
            }
        )
    rules += [
        {
            "name": "show",
            "match": {"user": "deploy.env holds", "step": 0},
            "reply": {"calls": [{"shell": "cat deploy.env", "description": "read deploy.env"}]},
        },
        {
            "name": "shown",
            "match": {"user": "deploy.env holds", "step": 1},
            "reply": {"text": ANSWER_SHOW},
        },
        {
            "name": "later-skill",
            "match": {"user": "mul\\(\\) in calc.py", "step": 0},
            "reply": {"calls": [skill_call]},
        },
        {
            "name": "later",
            "match": {"user": "mul\\(\\) in calc.py", "step": 1},
            "reply": {"text": ANSWER_LATER},
        },
    ]
    return {
        "version": 1,
        "title": "Harvest fixture",
        "rules": rules,
        "default": {"text": "Nothing scripted."},
    }


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Fixture",
        "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
        "GIT_COMMITTER_NAME": "Fixture",
        "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
    }
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    r = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return r.stdout.strip()


def make_repo(repo: Path) -> list[str]:
    """A small repo on ``main`` with three dated commits (the last one has the bug); returns
    the commit ids, oldest first."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    files = [
        ({"calc.py": "def add(a, b):\n    return a + b\n"}, "add()", "2026-01-05T10:00:00+00:00"),
        (
            {
                "test_calc.py": (
                    "import unittest\n\nfrom calc import add, mul\n\n\n"
                    "class T(unittest.TestCase):\n    def test_add(self):\n"
                    "        self.assertEqual(add(1, 2), 3)\n\n    def test_mul(self):\n"
                    "        self.assertEqual(mul(2, 3), 6)\n\n\nif __name__ == '__main__':\n"
                    "    unittest.main()\n"
                ),
                "deploy.env": DEPLOY_ENV,
                # codex injects it into the conversation as a user message: not a prompt
                "AGENTS.md": "# Notes for agents\n\nRun the unit tests before you finish.\n",
            },
            "tests and deploy settings",
            "2026-01-06T10:00:00+00:00",
        ),
        (
            {"calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"},
            "mul(), and a refactor of add()",
            "2026-01-07T10:00:00+00:00",
        ),
    ]
    commits = []
    for content, msg, date in files:
        for name, text in content.items():
            (repo / name).write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", msg, date=date)
        commits.append(_git(repo, "rev-parse", "HEAD"))
    return commits


@dataclass
class Generated:
    """What the real CLIs wrote, kept in a scratch dir for the whole test session."""

    root: Path
    repo: Path  # the repo the sessions ran in (a clone went in the container)
    commits: list[str]  # oldest first; the sessions started at commits[-1]
    #: agent -> session label ("fix", "later") -> files relative to the CLI's home
    files: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    def install(
        self, dest: Path, *, sessions: dict[str, list[str]] | None = None, later_commit: bool = True
    ) -> Layout:
        """A fake home per CLI under ``dest`` holding the chosen sessions (default: all), with
        every ``/workspace`` path rewritten to a host copy of the repo at ``dest/repo``.
        ``later_commit`` adds a commit after the sessions (dated 2099), as a user would."""
        repo = dest / "repo"
        shutil.copytree(self.repo, repo, symlinks=True)
        if later_commit:
            (repo / "README.md").write_text("later work\n")
            _git(repo, "add", "-A")
            _git(repo, "commit", "-q", "-m", "later work", date="2099-01-01T00:00:00+00:00")
        layout = Layout(dest, repo, dest / "claude-home", dest / "codex-home",
                        dest / "gemini-home", dest / "qwen-home")
        self.add(layout, sessions)
        return layout

    def add(self, layout: Layout, sessions: dict[str, list[str]] | None = None) -> None:
        """Copy more sessions into an installed layout (as a CLI would write new ones)."""
        for agent, labels in self.files.items():
            chosen = (
                (sessions or {}).get(agent, list(labels)) if sessions is not None else list(labels)
            )
            home: Path = getattr(layout, f"{agent}_home")
            for label in chosen:
                for rel in labels.get(label, []):
                    src = self.root / agent / rel
                    target = home / _rewrite_path(rel, layout.repo)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if src.suffix == ".jsonl" or src.name == ".project_root":
                        target.write_text(
                            _rewrite_text(
                                src.read_text().replace(str(self.repo), str(layout.repo)),
                                layout.repo,
                            )
                        )
                    else:
                        shutil.copy2(src, target)


@dataclass
class Layout:
    root: Path
    repo: Path
    claude_home: Path
    codex_home: Path
    gemini_home: Path
    qwen_home: Path


def claude_slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", path)


def _rewrite_path(rel: str, repo: Path) -> str:
    return rel.replace(claude_slug(CONTAINER_WORKDIR), claude_slug(str(repo)), 1)


def _rewrite_text(text: str, repo: Path) -> str:
    """Each JSON line with the container's workspace path replaced by the host repo's."""
    out = []
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            out.append(line)
            continue
        out.append(json.dumps(_rewrite_obj(d, str(repo)), ensure_ascii=False))
    return "\n".join(out) + "\n" if text.strip().startswith("{") else _rewrite_obj(text, str(repo))


def _rewrite_obj(v: Any, repo: str) -> Any:
    if isinstance(v, str):
        return re.sub(r"(?<![\w/])/workspace(?=[/\s<\"'`)]|$)", repo, v)
    if isinstance(v, list):
        return [_rewrite_obj(x, repo) for x in v]
    if isinstance(v, dict):
        return {k: _rewrite_obj(x, repo) for k, x in v.items()}
    return v


SESSIONS = {"fix": [PROMPT_FIX, PROMPT_SHOW], "later": [PROMPT_LATER]}
HOME_DIRS = {"claude": "/home/agent/.claude", "codex": "/home/agent/.codex",
             "gemini": "/home/agent/.gemini", "qwen": "/home/agent/.qwen"}
SESSION_SUBDIRS = {"claude": "projects", "codex": "sessions", "gemini": "tmp", "qwen": "projects"}
MODELS = {"claude": "claude-sonnet-4-5", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
          "qwen": "qwen3-coder-plus"}


def generate(root: Path, client: Any, images: dict[str, str],
             agents: tuple[str, ...] = ("claude", "codex")) -> Generated:
    """Run the CLIs (two sessions each) and copy their session files out under ``root``."""
    import yaml

    from controllers.profiles import get_profile
    from controllers.profiles.base import Skill, Variant
    from controllers.sandbox import SandboxLimits
    from harness.gateway import Gateway
    from harness.gateway.policy import parse_policy
    from harness.providers.docker import DockerProvider, prepare
    from harness.runner.paths import RunPaths
    from harness.runner.trial import TrialEnv, TrialPlan, run_trial
    from harness.tasks.schema import Task

    gen = Generated(root, root / "repo", make_repo(root / "repo"))
    for agent in agents:
        policy = _policy(agent)
        gw = Gateway(
            "scripted", policy=parse_policy(yaml.safe_dump(policy), where="harvest fixture")
        ).start()
        try:
            base = Task.model_validate(
                {
                    "id": "harvest-fixture",
                    "prompt": "x",
                    "workspace": {"git": str(gen.repo), "ref": "main"},
                }
            )
            warm = prepare(
                base,
                image=images[agent],
                client=client,
                run_id=f"tests-harvest-{agent}",
                limits=SandboxLimits(),
                with_relay=True,
                gateway_url=gw.url,
            )
            try:
                seen: set[str] = set()
                gen.files[agent] = {}
                for label, turns in SESSIONS.items():
                    task = Task.model_validate(
                        {
                            "id": f"harvest-{label}",
                            "turns": turns,
                            "policy": policy,
                            "timeout_sec": 240,
                            "checks": [],
                        }
                    )
                    env = TrialEnv(
                        run_id=f"harvest-{agent}-{label}",
                        paths=RunPaths(root / "runs", label),
                        agent=agent,
                        profile=get_profile(agent),
                        model=MODELS[agent],
                        gateway=gw,
                        provider=DockerProvider(client),
                    )
                    variant = Variant(
                        "baseline", skills=(Skill(SKILL, {"SKILL.md": SKILL_MD.encode()}),)
                    )
                    out = run_trial(env, TrialPlan(task, variant, 0), warm)
                    gen.statuses[f"{agent}/{label}"] = f"{out.record.status}: {out.record.reason}"
                    with tempfile.TemporaryDirectory(prefix="harvest-copy-") as tmp:
                        sub = SESSION_SUBDIRS[agent]
                        if not warm.box.exec(["test", "-d", f"{HOME_DIRS[agent]}/{sub}"]).ok:
                            gen.files[agent][label] = []  # the statuses say why
                            continue
                        warm.box.copy_out(f"{HOME_DIRS[agent]}/{sub}", Path(tmp) / sub)
                        new = []
                        for p in sorted((Path(tmp) / sub).rglob("*")):
                            rel = str(p.relative_to(tmp))
                            if p.is_file() and rel not in seen:
                                seen.add(rel)
                                new.append(rel)
                                (root / agent / rel).parent.mkdir(parents=True, exist_ok=True)
                                shutil.copy2(p, root / agent / rel)
                        gen.files[agent][label] = new
            finally:
                warm.close()
        finally:
            gw.close()
    return gen
