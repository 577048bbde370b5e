"""Sandboxes: where a Trial runs. ``DockerSandbox`` (default) and ``LocalSandbox`` (debugging).

See ``base.py`` for the seam; the conformance suite in tests/sandbox runs against both.
"""

from typing import TYPE_CHECKING

from controllers.sandbox.base import (
    ExecResult,
    Sandbox,
    SupportsCopy,
    SupportsHostArgv,
    SupportsHostPath,
)
from controllers.sandbox.config import DockerSandboxConfig, SandboxLimits
from controllers.sandbox.docker import DockerSandbox
from controllers.sandbox.local import LocalSandbox

__all__ = [
    "DockerSandbox",
    "DockerSandboxConfig",
    "ExecResult",
    "LocalSandbox",
    "Sandbox",
    "SandboxLimits",
    "SupportsCopy",
    "SupportsHostArgv",
    "SupportsHostPath",
]

if TYPE_CHECKING:  # conformance, checked by mypy: both classes satisfy the seam
    _docker: Sandbox = DockerSandbox()
    _local: Sandbox = LocalSandbox()
