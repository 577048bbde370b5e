"""The shared agent base image (``images/agent-base``): the harness base plus a newer Node.js
and npm from the npm registry, for CLIs that need more than Debian 12's Node 18.

Why a module of its own: an agent image names it as its parent with ``ImageBuild(parent=
NAME, parent_build=BUILD)``, and image planning (``harness images build``) reaches it
through the agents that use it, so the pinned versions live in exactly one place. The build
args feed the content-hash tag: bumping ``NODE_VERSION`` rebuilds this image and every agent
image on it. ``NODE_INTEGRITY_*`` pin the platform package's tarball (checked at build).

What it would take to move claude and codex onto it: ``parent=NAME, parent_build=BUILD`` in
their ``ImageBuild`` and their Dockerfiles without the Debian ``nodejs npm`` install (npm is
on PATH here); their content hashes change, so both images rebuild once.
"""

from __future__ import annotations

from controllers.profiles.base import ImageBuild

NAME = "agent-base"
NODE_VERSION = "22.23.3"
NPM_VERSION = "10.9.8"
#: where the image keeps Node's compile cache (``NODE_COMPILE_CACHE``), warmed by each agent
#: image's build with one run of its CLI
COMPILE_CACHE = "/opt/node-compile-cache"

BUILD = ImageBuild(
    build_args={
        "NODE_VERSION": NODE_VERSION,
        "NPM_VERSION": NPM_VERSION,
        # the npm registry's dist.integrity of node-linux-<arch>@NODE_VERSION
        "NODE_INTEGRITY_X64": "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==",
        "NODE_INTEGRITY_ARM64": "sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==",
    },
    parent="base",
)


def on_agent_base(build_args: dict[str, str]) -> ImageBuild:
    """An agent image built ``FROM`` the agent base, with its own pinned build args."""
    return ImageBuild(build_args=build_args, parent=NAME, parent_build=BUILD)
