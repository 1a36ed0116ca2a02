"""The app's lifecycle: initializing through terminated, announced as ``app.<state>``."""

from __future__ import annotations

from engine.instrumentation.monitor import Monitor
from engine.lifecycle.app_state import APP_VERBS, AppState
from engine.lifecycle.machine import APP_MACHINE, OneWayLifecycle, diagram


class Lifecycle(OneWayLifecycle[AppState]):
    """The app's one-way lifecycle; each entered state instruments ``app.<state>``."""

    def __init__(self, monitor: Monitor, sender: object) -> None:
        super().__init__(AppState, APP_VERBS, APP_MACHINE)
        self._monitor = monitor
        self._sender = sender

    def start_as_node(self) -> None:
        """A swarm node's own life begins: ``initialized`` again, unannounced.

        A node is forked from its supervisor, whose app was ``supervising`` by then; the
        node's copy starts where the supervisor's app began, and goes on to ``running``. A
        fresh machine, so no lock is inherited from another thread of the supervisor. Called in
        the node before anything watches its lifecycle (no watcher is kept).
        """
        self._watchers = []
        self._build(AppState.INITIALIZED)

    @property
    def is_running(self) -> bool:
        """True while running (not yet asked to quiet or stop)."""
        return self._state is AppState.RUNNING

    @property
    def is_winding_down(self) -> bool:
        """True from quieting on: no new work should start (quieting, quiet or stopping)."""
        return self.reached(AppState.QUIETING)

    @property
    def is_stopping(self) -> bool:
        """True from stopping on."""
        return self.reached(AppState.STOPPING)

    @property
    def is_stopped(self) -> bool:
        """True from stopped on."""
        return self.reached(AppState.STOPPED)

    @property
    def is_terminated(self) -> bool:
        """True once terminated."""
        return self._state is AppState.TERMINATED

    @staticmethod
    def diagram() -> str:
        """The app lifecycle as a Mermaid state diagram, drawn by ``transitions`` from its verbs."""
        return diagram(AppState, APP_VERBS, "engine app lifecycle")

    def _announce(self, state: AppState, previous: AppState) -> None:
        self._monitor.instrument(
            f"app.{state.value}", self._sender, state=state.value, previous=previous.value
        )
