"""The ``ray`` executor: a run's trials on the Docker hosts of a Ray cluster (issue 16).

``driver`` (this process: placement, results into the store), ``agent`` (one actor per
Docker host), ``cluster`` (joining, the checks before any trial), ``placement`` (warm
reuse across hosts), ``secret`` (a model key sealed for one node agent)."""

from harness.executors.ray_exec.driver import RayExecutor

__all__ = ["RayExecutor"]
