"""Lifecycles: ordered, one-way ``transitions`` machines for the app and for each listener."""

from engine.lifecycle.app_state import APP_TRANSITIONS, APP_VERBS, AppState
from engine.lifecycle.lifecycle import Lifecycle
from engine.lifecycle.listener_state import LISTENER_TRANSITIONS, LISTENER_VERBS, ListenerState
from engine.lifecycle.listener_status import ListenerStatus

__all__ = [
    "APP_TRANSITIONS", "APP_VERBS", "LISTENER_TRANSITIONS", "LISTENER_VERBS", "AppState",
    "Lifecycle", "ListenerState", "ListenerStatus",
]
