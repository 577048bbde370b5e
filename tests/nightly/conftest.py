"""The nightly tests reuse the harvest tests' session files made by the real CLIs
(``cli_sessions``, session-scoped: generated once when several suites run together)."""

from tests.harvest.conftest import cli_sessions  # noqa: F401
