"""The supervisor's own events (its monitor is not any node's)."""

from __future__ import annotations

SWARM_EVENTS: tuple[str, ...] = (
    "swarm.node.started",     # node (index), pid
    "swarm.node.stopped",     # node, pid, exit_code, graceful
    "swarm.node.restarting",  # node, delay (seconds of back-off)
    "error.occurred",         # type swarm.node.error: node, pid, reason (exit_code if it exited)
)
"""Every event a supervisor's monitor sends."""

SWARM_ERROR_TYPES: tuple[str, ...] = ("swarm.node.error",)
"""The ``error.occurred`` types a supervisor sends."""
