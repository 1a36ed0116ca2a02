"""A listener's states and its verbs (the only transitions of its status machine)."""

from __future__ import annotations

from enum import Enum

from engine.lifecycle.verb import Verb, moves


class ListenerState(str, Enum):
    """A listener's states, in the only order they may be entered."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    QUIETING = "quieting"
    QUIET = "quiet"
    STOPPING = "stopping"
    STOPPED = "stopped"


_L = ListenerState
LISTENER_VERBS: tuple[Verb[ListenerState], ...] = (
    Verb("start", (_L.PENDING,), _L.STARTING),
    Verb("run", (_L.STARTING,), _L.RUNNING),
    Verb("quiet", (_L.STARTING, _L.RUNNING), _L.QUIETING),
    Verb("settle", (_L.QUIETING,), _L.QUIET),
    Verb("stop", (_L.PENDING, _L.STARTING, _L.RUNNING, _L.QUIETING, _L.QUIET), _L.STOPPING),
    Verb("finish", (_L.STOPPING,), _L.STOPPED),
)
"""A listener status machine's triggers."""

LISTENER_TRANSITIONS: dict[ListenerState, tuple[ListenerState, ...]] = moves(
    list(ListenerState), LISTENER_VERBS)
"""Every move a listener may make (read from its verbs)."""
