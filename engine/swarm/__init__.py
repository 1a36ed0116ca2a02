"""Swarm: N supervised copies of an app, one process each, past the GIL."""

from engine.node_ports import NODE_PORT_STRIDE, node_index, node_port
from engine.swarm.supervisor import Supervisor

__all__ = ["NODE_PORT_STRIDE", "Supervisor", "node_index", "node_port"]
