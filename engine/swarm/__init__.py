"""Swarm: N supervised copies of an app, one process each, past the GIL."""

import os

from engine.swarm.supervisor import Supervisor

__all__ = ["Supervisor", "node_index", "node_port"]


def node_index() -> int | None:
    """This process's node index in a swarm (0, 1, ...), or None outside one.

    Plugins that serve HTTP add it to their port, so N nodes on one host do not collide.
    """
    value = os.environ.get("ENGINE_SWARM_NODE")
    return int(value) if value is not None and value.isdigit() else None


def node_port(port: int) -> int:
    """The port to serve on: ``port + node_index()`` in a swarm (0 stays 0, a free port)."""
    return port + (node_index() or 0) if port else 0
