"""A listener's own lifecycle: pending through stopped, announced as ``connection.listener.*``."""

from __future__ import annotations

from engine.instrumentation.monitor import Monitor
from engine.lifecycle.listener_state import LISTENER_VERBS, ListenerState
from engine.lifecycle.machine import LISTENER_MACHINE, OneWayLifecycle, diagram


class ListenerStatus(OneWayLifecycle[ListenerState]):
    """One listener's one-way status; each entered state instruments ``connection.listener.*``."""

    def __init__(self, monitor: Monitor, sender: object, subscription_group: str) -> None:
        super().__init__(ListenerState, LISTENER_VERBS, LISTENER_MACHINE)
        self._monitor = monitor
        self._sender = sender
        self._subscription_group = subscription_group
        # a listener begins pending: announced once, as it is built, like every state after it
        self._monitor.instrument(
            "connection.listener.pending", self._sender,
            subscription_group=subscription_group, state=ListenerState.PENDING.value,
            previous=None)

    def stop(self) -> bool:
        """Ask to stop; a listener that never started goes straight on to stopped."""
        with self._atomically():
            never_started = self._state is ListenerState.PENDING
            moved = self.request(ListenerState.STOPPING)
            if moved and never_started:
                self.request(ListenerState.STOPPED)
            return moved

    @property
    def is_running(self) -> bool:
        """True while running."""
        return self._state is ListenerState.RUNNING

    @property
    def is_active(self) -> bool:
        """Neither pending nor stopped."""
        return self._state not in (ListenerState.PENDING, ListenerState.STOPPED)

    @staticmethod
    def diagram() -> str:
        """A listener's lifecycle as a Mermaid state diagram, drawn by ``transitions``."""
        return diagram(ListenerState, LISTENER_VERBS, "engine listener lifecycle")

    def _announce(self, state: ListenerState, previous: ListenerState) -> None:
        self._monitor.instrument(
            f"connection.listener.{state.value}", self._sender,
            subscription_group=self._subscription_group,
            state=state.value, previous=previous.value,
        )
