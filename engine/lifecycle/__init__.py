"""Lifecycles: ordered, one-way state machines for the app and for each listener."""

from engine.lifecycle.app_state import APP_TRANSITIONS, AppState
from engine.lifecycle.lifecycle import Lifecycle
from engine.lifecycle.listener_state import LISTENER_TRANSITIONS, ListenerState
from engine.lifecycle.listener_status import ListenerStatus

__all__ = [
    "APP_TRANSITIONS", "LISTENER_TRANSITIONS", "AppState", "Lifecycle", "ListenerState",
    "ListenerStatus",
]
