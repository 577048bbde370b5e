"""The model Gateway (scripted / record / replay / passthrough) and the stdio relay that lets
a network-less agent container reach it. See :mod:`.server`, :mod:`.modes`, :mod:`.wires`
(one module per wire protocol), :mod:`.policy` and :mod:`.relay`."""

from . import wires
from .policy import Policy, load_policy, parse_policy
from .relay import IN_CONTAINER_PATH, RELAY_JS, Relay, relay_argv
from .server import Gateway
from .trials import Exchange, GatewayEvent, TrialKey, Usage
from .upstream import Upstream
from .view import RequestView

__all__ = ["IN_CONTAINER_PATH", "RELAY_JS", "Exchange", "Gateway", "GatewayEvent", "Policy",
           "Relay", "RequestView", "TrialKey", "Upstream", "Usage", "load_policy",
           "parse_policy", "relay_argv", "wires"]
