"""Task suites: the ``harness.task/v1`` schema, loading with located errors, tool shims,
and importers from other formats.

The runner's entry points::

    suite = load_suite("tasks/examples")          # raises ValidationFailed (all errors)
    for task in suite.by_split("train"):
        task.prompt_turns("claude"); task.workspace_source(); task.checks_for("claude")
        render_tool_shims(task); tool_data(task)
"""

from harness.tasks.loader import check_suite, load_suite
from harness.tasks.schema import (
    SCHEMA_ID,
    SPLITS,
    AgentOverride,
    EnvironmentSource,
    SuiteConfig,
    Task,
    TestsSpec,
    Tool,
    Workspace,
    WorkspaceSource,
)
from harness.tasks.shims import (
    DATA_DIR,
    LOG_PATH,
    SHIM_DIR,
    read_tools_log,
    render_shim,
    render_tool_shims,
    tool_data,
)
from harness.tasks.suite import Suite

__all__ = [
    "DATA_DIR", "LOG_PATH", "SCHEMA_ID", "SHIM_DIR", "SPLITS", "AgentOverride",
    "EnvironmentSource", "Suite",
    "SuiteConfig", "Task", "TestsSpec", "Tool", "Workspace", "WorkspaceSource", "check_suite",
    "load_suite", "read_tools_log", "render_shim", "render_tool_shims", "tool_data",
]
