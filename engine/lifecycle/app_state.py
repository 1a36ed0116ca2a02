"""The app's states and the moves between them (the table the lifecycle enforces)."""

from __future__ import annotations

from enum import Enum


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


APP_TRANSITIONS: dict[AppState, tuple[AppState, ...]] = {
    AppState.INITIALIZING: (AppState.INITIALIZED,),
    # supervising is a swarm supervisor's state while its nodes run (each node's app starts
    # initialized again and goes to running); it ends with stopping
    AppState.INITIALIZED: (AppState.SUPERVISING, AppState.RUNNING, AppState.STOPPING),
    AppState.SUPERVISING: (AppState.QUIETING, AppState.STOPPING),
    AppState.RUNNING: (AppState.QUIETING, AppState.STOPPING),
    AppState.QUIETING: (AppState.QUIET, AppState.STOPPING),
    AppState.QUIET: (AppState.STOPPING,),
    AppState.STOPPING: (AppState.STOPPED,),
    AppState.STOPPED: (AppState.TERMINATED,),
}
"""Every move the app may make; the lifecycle diagram draws exactly these."""
