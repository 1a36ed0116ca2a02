"""A listener's states and the moves between them (the table its status enforces)."""

from __future__ import annotations

from enum import Enum


class ListenerState(str, Enum):
    """A listener's states, in the only order they may be entered."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    QUIETING = "quieting"
    QUIET = "quiet"
    STOPPING = "stopping"
    STOPPED = "stopped"


LISTENER_TRANSITIONS: dict[ListenerState, tuple[ListenerState, ...]] = {
    ListenerState.PENDING: (ListenerState.STARTING, ListenerState.STOPPING),
    ListenerState.STARTING: (ListenerState.RUNNING, ListenerState.QUIETING,
                             ListenerState.STOPPING),
    ListenerState.RUNNING: (ListenerState.QUIETING, ListenerState.STOPPING),
    ListenerState.QUIETING: (ListenerState.QUIET, ListenerState.STOPPING),
    ListenerState.QUIET: (ListenerState.STOPPING,),
    ListenerState.STOPPING: (ListenerState.STOPPED,),
}
"""Every move a listener may make."""
