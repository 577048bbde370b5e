"""Reaching a Ray cluster and finding its Docker hosts, with every bad input one line
before any trial starts: Ray not installed, an address that does not answer, no node with a
Docker engine, a Ray version that differs between the driver and a node."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from harness.errors import ConfigError

#: the custom resource a Docker host advertises (``ray start --resources '{"harness_docker": 1}'``)
RESOURCE = "harness_docker"
JOIN_HINT = f"""start each Docker host with `ray start --address HEAD:6379 --resources '{{"{RESOURCE}": 1}}'`"""
CONNECT_TIMEOUT_SEC = 10.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray, which is not installed",
                          hint="pip install 'agent-replay-harness[ray]'") from None
    return ray


def probe(address: str, timeout_sec: float = CONNECT_TIMEOUT_SEC) -> None:
    """The head's GCS port answers a TCP connect within ``timeout_sec`` (``ray.init`` would
    otherwise retry for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r} is not HOST:PORT", hint="e.g. --ray-address 10.0.0.5:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_sec).close()
    except OSError as exc:
        raise ConfigError(f"Ray head {address} does not answer ({exc.strerror or exc}, {timeout_sec:g} s)",
                          hint="start it with `ray start --head`, or fix --ray-address") from None


def connect(address: str | None, runtime_env: dict[str, Any]) -> bool:
    """Join the cluster at ``address`` (a new one-node cluster on this machine when None,
    its node advertising Docker). Returns whether this call started Ray (then the caller
    shuts it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(runtime_env=runtime_env, log_to_driver=False, include_dashboard=False,
                                  configure_logging=False, namespace="harness")
    if address:
        probe(address)
        kwargs.pop("include_dashboard")
        kwargs["address"] = address
    else:  # "local": a new cluster even when one started by `ray start` runs here
        kwargs.update(address="local", resources={RESOURCE: 1})
    loopback = address is None or _is_loopback(address)
    if loopback:
        kwargs["_node_ip_address"] = "127.0.0.1"
    try:
        with _loopback_kept(loopback):
            ray.init(**kwargs)
    except (RuntimeError, ConnectionError) as exc:
        text = str(exc)
        if "version" in text.lower():
            raise ConfigError(f"Ray on the cluster differs from this machine's Ray {ray.__version__}: "
                              f"{text.splitlines()[0][:200]}",
                              hint="install the same Ray version on the driver and every node") from None
        raise ConfigError(f"cannot join the Ray cluster at {address}: {text.splitlines()[0][:200]}",
                          hint="check --ray-address and that the head is up") from None
    return True


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


@contextlib.contextmanager
def _loopback_kept(keep: bool) -> Iterator[None]:
    """Ray rewrites a loopback address to this machine's outward address before it
    connects; a cluster whose nodes listen on loopback only (one machine, nothing exposed)
    is then unreachable. While joining such a cluster, loopback stays loopback."""
    if not keep:
        yield
        return
    from ray._private import services

    real = services.resolve_ip_for_localhost
    services.resolve_ip_for_localhost = lambda host: host
    try:
        yield
    finally:
        services.resolve_ip_for_localhost = real


def docker_nodes() -> list[dict[str, Any]]:
    """The alive nodes advertising a Docker engine; none is one line saying how."""
    ray = import_ray()
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(RESOURCE, 0) > 0]
    if not nodes:
        raise ConfigError(f"no node of the Ray cluster advertises a Docker engine ({RESOURCE})", hint=JOIN_HINT)
    return nodes


def check_versions(driver: str, hellos: list[dict[str, Any]]) -> None:
    """Every node runs the driver's Ray version (actor calls across versions break)."""
    odd = [h for h in hellos if h.get("ray") != driver]
    if odd:
        h = odd[0]
        raise ConfigError(f"node {h.get('node')} runs Ray {h.get('ray')}, this machine Ray {driver}",
                          hint=f"install ray=={driver} on every node (pip install 'agent-replay-harness[ray]')")
