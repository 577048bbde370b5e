"""tmux controllers: drive one pane in a dedicated tmux server, locally or in a container.

Layers (each its own module): ``argv`` pure command builders; ``hosts`` where tmux runs
(local, ``docker exec``, a sandbox's ``host_argv``); ``transport`` one process per command
(a) and the fallback; ``control`` the persistent control-mode channel (b); ``waits`` wait
strategies; ``shell`` run_shell markers; ``record`` asciicast v2 recording; ``controller``
the Controller itself.

    with DockerTmuxController(box) as ctl:          # box: a DockerSandbox
        ctl.start(["bash"], cwd=box.workdir, width=200, height=50)
        ctl.send_keys("echo hi")
        ctl.wait_for_text("hi")
"""

from controllers.tmux.controller import (
    DockerTmuxController,
    LocalTmuxController,
    PaneState,
    ShellResult,
    TmuxController,
)
from controllers.tmux.hosts import ContainerHost, Host, LocalHost, SandboxHost, host_for
from controllers.tmux.waits import AnyOf, ProcessExited, ScreenMatches, ScreenStable, Signal

__all__ = [
    "AnyOf", "ContainerHost", "DockerTmuxController", "Host", "LocalHost", "LocalTmuxController",
    "PaneState", "ProcessExited", "SandboxHost", "ScreenMatches", "ScreenStable", "ShellResult",
    "Signal", "TmuxController", "host_for",
]
