"""tmux controllers: drive one pane in a dedicated tmux server, locally or in a container.

Layers (each its own module, each importing only the ones before it): ``base`` the shared
small types (Transport, Controller, ChannelUnavailable, PaneState); ``argv`` pure command
builders; ``hosts`` where tmux runs (local, ``docker exec``, a sandbox's ``host_argv``);
``transport`` one process per command (a) and the fallback; ``control`` the persistent
control-mode channel (b); ``waits`` wait strategies; ``shell`` run_shell markers; ``record``
asciicast v2 recording; ``controller`` the Controller itself; ``libtmux_bridge`` libtmux's
objects over the controller's transport.

    with SandboxTmuxController(box) as ctl:         # box: any sandbox with host_argv()
        ctl.start(["bash"], cwd=box.workdir, width=200, height=50)
        ctl.send_keys("echo hi")
        ctl.wait_for_text("hi")
        pane = ctl.libtmux_server().panes[0]        # libtmux's objects, same channel

``DockerTmuxController`` is the deprecated old name of ``SandboxTmuxController``.
"""

from controllers.tmux.base import Controller, Transport
from controllers.tmux.controller import (
    DEPRECATED_DOCKER_NAME,
    LocalTmuxController,
    PaneState,
    SandboxTmuxController,
    ShellResult,
    TmuxController,
)
from controllers.tmux.hosts import ContainerHost, Host, LocalHost, SandboxHost, host_for
from controllers.tmux.waits import AnyOf, ProcessExited, ScreenMatches, ScreenStable, Signal

__all__ = [
    "AnyOf", "ContainerHost", "Controller", "Host", "LocalHost",
    "LocalTmuxController", "PaneState", "ProcessExited", "SandboxHost", "SandboxTmuxController",
    "ScreenMatches", "ScreenStable", "ShellResult", "Signal", "TmuxController", "Transport",
    "host_for",
]


def __getattr__(name: str) -> object:
    """The deprecated old name ``DockerTmuxController``: still works, and warns."""
    if name == "DockerTmuxController":
        import warnings

        warnings.warn(DEPRECATED_DOCKER_NAME, DeprecationWarning, stacklevel=2)
        return SandboxTmuxController
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
