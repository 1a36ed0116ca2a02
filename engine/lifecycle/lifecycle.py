"""The app's lifecycle: initializing through terminated, announced as ``app.<state>``."""

from __future__ import annotations

from collections.abc import Callable

from engine.instrumentation.monitor import Monitor
from engine.lifecycle.app_state import APP_TRANSITIONS, AppState
from engine.lifecycle.diagram import mermaid
from engine.lifecycle.one_way import OneWayMachine


class Lifecycle:
    """The app's one-way lifecycle; each entered state instruments ``app.<state>``."""

    def __init__(self, monitor: Monitor, sender: object) -> None:
        self._monitor = monitor
        self._sender = sender
        self._machine: OneWayMachine[AppState] = OneWayMachine(
            AppState, APP_TRANSITIONS, self._announce)

    def start_as_node(self) -> None:
        """A swarm node's own life begins: ``initialized`` again, unannounced.

        A node is forked from its supervisor, whose app was ``supervising`` by then; the
        node's copy starts where the supervisor's app began, and goes on to ``running``.
        Called in the node before anything watches its lifecycle.
        """
        self._machine = OneWayMachine(AppState, APP_TRANSITIONS, self._announce,
                                      initial=AppState.INITIALIZED)

    @property
    def state(self) -> AppState:
        """The current state."""
        return self._machine.state

    def request(self, target: AppState) -> bool:
        """Move forward to ``target``; False when it is not ahead of the current state."""
        return self._machine.request(target)

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every change (the conductor's wake-up)."""
        self._machine.watch(callback)

    @property
    def is_running(self) -> bool:
        """True while running (not yet asked to quiet or stop)."""
        return self._machine.state is AppState.RUNNING

    @property
    def is_winding_down(self) -> bool:
        """True from quieting on: no new work should start (quieting, quiet or stopping)."""
        return self._machine.reached(AppState.QUIETING)

    @property
    def is_stopping(self) -> bool:
        """True from stopping on."""
        return self._machine.reached(AppState.STOPPING)

    @property
    def is_stopped(self) -> bool:
        """True from stopped on."""
        return self._machine.reached(AppState.STOPPED)

    @property
    def is_terminated(self) -> bool:
        """True once terminated."""
        return self._machine.state is AppState.TERMINATED

    def reached(self, state: AppState) -> bool:
        """Whether ``state`` or a later one has been entered."""
        return self._machine.reached(state)

    @staticmethod
    def diagram() -> str:
        """The app lifecycle as a Mermaid state diagram, drawn from its transition table."""
        return mermaid(list(AppState), APP_TRANSITIONS)

    def _announce(self, state: AppState, previous: AppState) -> None:
        self._monitor.instrument(
            f"app.{state.value}", self._sender, state=state.value, previous=previous.value
        )
