"""The manager: decides when listeners quiet and stop, so a group never half-leaves."""

from __future__ import annotations

from collections.abc import Sequence

from engine.connection.listener import Listener
from engine.lifecycle.app_state import AppState
from engine.lifecycle.lifecycle import Lifecycle
from engine.lifecycle.listener_state import ListenerState


class Manager:
    """On a stop or quiet, quiet every listener; once all are quiet, stop them all."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle
        self._listeners: Sequence[Listener] = ()
        self._quieting = False
        self._stopping = False

    def register(self, listeners: Sequence[Listener]) -> None:
        """Take charge of the listeners and start them."""
        self._listeners = listeners
        for listener in listeners:
            listener.start()

    def all_stopped(self) -> bool:
        """True when every listener has stopped."""
        return all(listener.status.state is ListenerState.STOPPED for listener in self._listeners)

    def control(self) -> None:
        """Move listeners along once the app is quieting or stopping."""
        lifecycle = self._lifecycle
        if not lifecycle.is_winding_down:
            return
        if not self._quieting:
            self._quieting = True
            for listener in self._listeners:
                listener.quiet()
        if not all(listener.status.reached(ListenerState.QUIET) for listener in self._listeners):
            return
        if lifecycle.state is AppState.QUIETING:
            lifecycle.request(AppState.QUIET)
        elif lifecycle.is_stopping and not self._stopping:
            self._stopping = True
            for listener in self._listeners:
                listener.stop()
