"""The app's states and its verbs (the only transitions of its lifecycle machine)."""

from __future__ import annotations

from enum import Enum

from engine.lifecycle.verb import Verb, moves


class AppState(str, Enum):
    """The app's states, in the only order they may be entered."""

    INITIALIZING = "initializing"
    INITIALIZED = "initialized"
    SUPERVISING = "supervising"
    RUNNING = "running"
    QUIETING = "quieting"
    QUIET = "quiet"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"


_A = AppState
APP_VERBS: tuple[Verb[AppState], ...] = (
    Verb("initialize", (_A.INITIALIZING,), _A.INITIALIZED),
    # supervising is a swarm supervisor's state while its nodes run (each node's app starts
    # initialized again and goes to running); it ends with stopping
    Verb("supervise", (_A.INITIALIZED,), _A.SUPERVISING),
    Verb("run", (_A.INITIALIZED,), _A.RUNNING),
    Verb("quiet", (_A.SUPERVISING, _A.RUNNING), _A.QUIETING),
    Verb("settle", (_A.QUIETING,), _A.QUIET),
    Verb("stop", (_A.INITIALIZED, _A.SUPERVISING, _A.RUNNING, _A.QUIETING, _A.QUIET),
         _A.STOPPING),
    Verb("finish", (_A.STOPPING,), _A.STOPPED),
    Verb("terminate", (_A.STOPPED,), _A.TERMINATED),
)
"""The app lifecycle machine's triggers; the diagram draws exactly these."""

APP_TRANSITIONS: dict[AppState, tuple[AppState, ...]] = moves(list(AppState), APP_VERBS)
"""Every move the app may make (read from its verbs)."""
