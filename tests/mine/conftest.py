"""The mining tests reuse the harvest tests' session files made by the real CLIs
(``cli_sessions``, session-scoped: generated once when both suites run together)."""

from tests.harvest.conftest import cli_sessions, harvest_cli  # noqa: F401
