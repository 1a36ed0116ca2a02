"""Lifecycles: ordered, one-way state machines for the app and for each listener."""

from engine.lifecycle.app_state import AppState, Lifecycle
from engine.lifecycle.listener_state import ListenerState, ListenerStatus

__all__ = ["AppState", "Lifecycle", "ListenerState", "ListenerStatus"]
