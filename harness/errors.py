"""One exception tree for the whole harness.

Every error a user can hit derives from :class:`HarnessError`; the CLI catches that base
class and prints ``str(exc)`` on one line (plus ``hint`` when set), with a traceback only
under ``--debug``. Docker, subprocess and tmux errors are translated into this tree at the
seam where they happen (``raise ... from exc``), so callers never see ``docker.errors.*``.

A *failed command* is not an exception: ``Sandbox.exec`` returns an ``ExecResult`` with a
non-zero exit code. Exceptions are for broken machinery (an engine that cannot be reached,
a container that vanished, a tmux server that died) and for bad input.

::

    HarnessError
    ├── ConfigError                 bad config / CLI input, named field
    │   └── ValidationFailed         many located errors at once (task suites, policies)
    ├── EngineError                 Docker engine missing or unreachable
    ├── ImageError                  image missing or build failed
    ├── SandboxError                container / local sandbox machinery
    │   ├── SandboxClosed            a closed sandbox was used again
    │   └── ExecTimeout              only raised by helpers that demand success
    ├── SnapshotError               git snapshot / restore failed
    ├── ControllerError             tmux machinery
    │   ├── TransportError           a tmux command could not be run / channel died
    │   ├── TmuxCommandError         tmux answered %error for a command
    │   ├── SendKeysError            text could not be delivered exactly
    │   ├── PaneDead                 the pane's process exited
    │   └── WaitTimeout              a wait ran out; carries the last screen
    ├── AgentError                  agent CLI crashed, unknown blocking dialog
    ├── GatewayError                model gateway could not start / bad cassette
    └── GateError                   gate could not decide (bad check spec etc.)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class: a one-line message a user can act on, and an optional hint."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def one_line(self) -> str:
        """The message as the CLI prints it: what happened, then what to do."""
        msg = str(self).strip().replace("\n", " ")
        return f"{msg} ({self.hint})" if self.hint else msg


class ConfigError(HarnessError):
    """A configuration value or CLI argument is invalid; the message names the field."""


class LocatedError:
    """One problem at one place (file, line or field) inside a larger input."""

    __slots__ = ("where", "message")

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def __repr__(self) -> str:
        return f"LocatedError({self.where!r}, {self.message!r})"


class ValidationFailed(ConfigError):
    """Several located errors, reported all at once (task suites, policies, cassettes)."""

    def __init__(self, what: str, errors: list[LocatedError]) -> None:
        self.errors = list(errors)
        n = len(self.errors)
        first = f"; first: {self.errors[0]}" if self.errors else ""
        super().__init__(f"{what}: {n} error{'s' if n != 1 else ''}{first}")

    def details(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class EngineError(HarnessError):
    """The Docker engine is not installed, not running, or not reachable."""


class ImageError(HarnessError):
    """An image is missing or could not be built."""


class SandboxError(HarnessError):
    """The sandbox machinery failed (container vanished, engine refused an operation)."""


class SandboxClosed(SandboxError):
    """A sandbox was used after close()."""


class ExecTimeout(SandboxError):
    """A command had to succeed but ran out of time (helpers that require success)."""


class SnapshotError(HarnessError):
    """A git snapshot, restore or diff inside a workspace failed."""


class ControllerError(HarnessError):
    """Base for tmux controller failures."""


class TransportError(ControllerError):
    """A tmux command could not be delivered (process failed, channel died, timed out)."""


class TmuxCommandError(ControllerError):
    """tmux ran the command and answered with an error."""


class SendKeysError(ControllerError):
    """Text could not be sent exactly; the message names the offending part."""


class PaneDead(ControllerError):
    """The pane's process has exited; ``exit_status`` tells how."""

    def __init__(self, message: str, *, exit_status: int | None = None, screen: str = "") -> None:
        super().__init__(message)
        self.exit_status = exit_status
        self.screen = screen


class WaitTimeout(ControllerError):
    """A wait ran out of time. Carries what it waited for and the last screen."""

    def __init__(self, waited_for: str, timeout_sec: float, screen: str = "") -> None:
        tail = "\n".join(screen.rstrip().splitlines()[-15:])
        super().__init__(
            f"timed out after {timeout_sec:g}s waiting for {waited_for}",
            hint="see the last screen below, or raise the timeout",
        )
        self.waited_for = waited_for
        self.timeout_sec = timeout_sec
        self.screen = screen
        self.screen_tail = tail

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n--- last screen ---\n{self.screen_tail}" if self.screen_tail else base

    def one_line(self) -> str:
        return f"timed out after {self.timeout_sec:g}s waiting for {self.waited_for} ({self.hint})"


class AgentError(HarnessError):
    """The agent CLI crashed, exited, or showed a blocking dialog we do not know."""

    def __init__(self, message: str, *, screen: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.screen = screen


class GatewayError(HarnessError):
    """The model Gateway could not start, or a policy / cassette is unusable."""


class GateError(HarnessError):
    """The gate could not compute a decision (bad check spec, inconsistent inputs)."""


class PhaseTimeout(HarnessError):
    """A phase of a trial ran out of time (see ``harness.runner.trial.Trial``). Each phase
    has its own subclass, so a log or a test can say which one without parsing text."""

    what = "a trial phase did not finish in time"

    def __init__(self, cause: str = "", *, screen: str = "", message: str | None = None) -> None:
        super().__init__(message or (f"{self.what}: {cause}" if cause else self.what))
        self.screen = screen


class SetupTimeout(PhaseTimeout):
    what = "the sandbox was not ready for the trial in time"


class LaunchTimeout(PhaseTimeout):
    what = "the agent's CLI did not start in time"


class DriveTimeout(PhaseTimeout):
    """The trial's deadline passed while the agent worked: the trial's status is ``timeout``
    (recorded, not raised: running out of time is the agent's outcome, not a breakage)."""

    what = "trial timeout"

    @classmethod
    def after(cls, timeout_sec: float) -> DriveTimeout:
        return cls(message=f"trial timeout after {timeout_sec:g}s")


class CollectTimeout(PhaseTimeout):
    what = "the trial's evidence (diff, transcript, pane) could not be collected in time"


class CheckTimeout(PhaseTimeout):
    what = "the trial's checks did not finish in time"
