"""A listener's own lifecycle: pending through stopped, announced as ``connection.listener.*``."""

from __future__ import annotations

from collections.abc import Callable

from engine.instrumentation.monitor import Monitor
from engine.lifecycle.listener_state import LISTENER_TRANSITIONS, ListenerState
from engine.lifecycle.one_way import OneWayMachine


class ListenerStatus:
    """One listener's one-way status; each entered state instruments ``connection.listener.*``."""

    def __init__(self, monitor: Monitor, sender: object, subscription_group: str) -> None:
        self._monitor = monitor
        self._sender = sender
        self._subscription_group = subscription_group
        self._machine: OneWayMachine[ListenerState] = OneWayMachine(
            ListenerState, LISTENER_TRANSITIONS, self._announce)

    @property
    def state(self) -> ListenerState:
        """The current state."""
        return self._machine.state

    def request(self, target: ListenerState) -> bool:
        """Move forward to ``target``; False when it is not ahead of the current state."""
        return self._machine.request(target)

    def stop(self) -> bool:
        """Ask to stop; a listener that never started goes straight on to stopped."""
        with self._machine.lock:
            never_started = self._machine.state is ListenerState.PENDING
            moved = self._machine.request(ListenerState.STOPPING)
            if moved and never_started:
                self._machine.request(ListenerState.STOPPED)
            return moved

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every change."""
        self._machine.watch(callback)

    @property
    def is_running(self) -> bool:
        """True while running."""
        return self._machine.state is ListenerState.RUNNING

    @property
    def is_active(self) -> bool:
        """Neither pending nor stopped."""
        return self._machine.state not in (ListenerState.PENDING, ListenerState.STOPPED)

    def reached(self, state: ListenerState) -> bool:
        """Whether ``state`` or a later one has been entered."""
        return self._machine.reached(state)

    def _announce(self, state: ListenerState, previous: ListenerState) -> None:
        self._monitor.instrument(
            f"connection.listener.{state.value}", self._sender,
            subscription_group=self._subscription_group,
            state=state.value, previous=previous.value,
        )
