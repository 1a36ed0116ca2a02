"""Which port a plugin serves on in each process of a swarm: its own, never a neighbour's.

Its own module, so that plugins read it without importing the swarm's supervisor.
"""

import os

__all__ = ["NODE_PORT_STRIDE", "node_index", "node_port"]

NODE_PORT_STRIDE = 10
"""Ports between two nodes' servers of one plugin: node ``i`` serves on ``port + 10 * i``.

The first-party defaults are neighbours (prometheus 9394, health 9395, the dashboard 9396, one
per swarm); any two base ports less than 10 apart never meet on any node, however many nodes.
"""


def node_index() -> int | None:
    """This process's node index in a swarm (0, 1, ...), or None outside one.

    Plugins that serve HTTP serve on ``node_port(port)``, so N nodes on one host do not collide.
    """
    value = os.environ.get("ENGINE_SWARM_NODE")
    return int(value) if value is not None and value.isdigit() else None


def node_port(port: int, index: int | None = None) -> int:
    """The port to serve on: ``port + NODE_PORT_STRIDE * index`` (0 stays 0, a free port).

    ``index`` defaults to this process's ``node_index()`` (0 outside a swarm). Raises
    ``ValueError`` when the result is past 65535.
    """
    if not port:
        return 0
    node = node_index() if index is None else index
    served = port + NODE_PORT_STRIDE * (node or 0)
    if served > 65535:
        raise ValueError(f"port {port} + {NODE_PORT_STRIDE} x node {node} = {served}"
                         " is past 65535: choose a lower port")
    return served
