"""One place turns the engine's foreign errors into the harness's (``engine_errors``): a
caller catches one tree, the CLI prints one line, and the original is kept as the cause."""

from __future__ import annotations

import pytest
import requests
from docker.errors import APIError, ImageNotFound, NotFound

from harness.engine import engine_errors
from harness.errors import EngineError, HarnessError, ImageError, SandboxError


def test_an_sdk_error_becomes_the_callers_error_with_its_cause() -> None:
    cause = APIError("500 Server Error: boom")
    with pytest.raises(SandboxError, match=r"^exec in box failed: 500 Server Error: boom") as info:
        with engine_errors("exec in box failed"):
            raise cause
    assert info.value.__cause__ is cause


def test_a_transport_error_is_mapped_too_with_the_hint() -> None:
    with pytest.raises(EngineError) as info:
        with engine_errors("cannot reach the engine", error=EngineError, hint="start it"):
            raise requests.exceptions.ConnectionError("connection refused")
    assert info.value.one_line() == "cannot reach the engine: connection refused (start it)"


def test_not_found_becomes_what_the_caller_promises() -> None:
    with pytest.raises(FileNotFoundError, match="/x"):
        with engine_errors("reading /x failed", not_found=lambda _e: FileNotFoundError("/x")):
            raise NotFound("no such file")
    with pytest.raises(ImageError):  # an image 404 is a NotFound as well
        with engine_errors("start", not_found=lambda _e: ImageError("image y is not in the engine")):
            raise ImageNotFound("no such image")
    with pytest.raises(SandboxError):  # without not_found a 404 is just a failure
        with engine_errors("start"):
            raise NotFound("gone")


@pytest.mark.parametrize("exc", [ValueError("a bug"), HarnessError("ours already"), KeyboardInterrupt()])
def test_everything_else_passes_through_untouched(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as info:
        with engine_errors("anything"):
            raise exc
    assert info.value is exc
