"""Label keys the harness puts on everything it creates, so `harness gc` can find it.

One place for the names: the sandbox writes them, the sweeper and the image builder read
them. Values are strings (Docker labels are string-only).
"""

from __future__ import annotations

PREFIX = "io.agent-harness"
MANAGED = f"{PREFIX}.managed"          # "true" on every container / image / network we make
KIND = f"{PREFIX}.kind"                # sandbox | image | network | gateway
RUN_ID = f"{PREFIX}.run-id"
OWNER_PID = f"{PREFIX}.owner-pid"
OWNER_HOST = f"{PREFIX}.owner-host"
OWNER_START = f"{PREFIX}.owner-start"  # owner process start time, guards against pid reuse
CREATED = f"{PREFIX}.created"          # unix seconds, UTC
IMAGE_NAME = f"{PREFIX}.image"
CONTENT_HASH = f"{PREFIX}.content-hash"

MANAGED_FILTER = {"label": [f"{MANAGED}=true"]}
