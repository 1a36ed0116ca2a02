"""A new app's first state, moved by the server's package before any server exists."""

from __future__ import annotations

from engine.lifecycle.app_state import AppState
from engine.lifecycle.lifecycle import Lifecycle


def initialize(lifecycle: Lifecycle) -> None:
    """A new app is built: it enters ``initialized``."""
    lifecycle.request(AppState.INITIALIZED)
