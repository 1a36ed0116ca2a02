"""The server's steps over the listeners: start them, quiet them all, then stop them all.

Quieting every listener before stopping any is what keeps a group from half-leaving (Karafka's
connection manager). Only the server's main loop calls these, on the run's thread; the app's
state is the server's to move, so nothing here touches the lifecycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import methodcaller
from typing import TYPE_CHECKING

from engine.lifecycle.listener_state import ListenerState

if TYPE_CHECKING:
    from engine.connection.listener import Listener


class ListenerSteps:
    """Each step once: start every listener; quiet them all; once all are quiet, stop them all."""

    def __init__(self) -> None:
        self._listeners: Sequence[Listener] = ()
        self._asked: set[str] = set()

    def start(self, listeners: Sequence[Listener]) -> None:
        """Take charge of the listeners and start them, in order."""
        self._listeners = listeners
        for listener in listeners:
            listener.start()

    def quiet_all(self) -> None:
        """Ask every listener to quiet (the first call only)."""
        self._ask_each_once("quiet")

    def all_quiet(self) -> bool:
        """True when every listener is quiet or further along."""
        return all(listener.status.reached(ListenerState.QUIET) for listener in self._listeners)

    def stop_all(self) -> None:
        """Ask every listener to stop (the first call only)."""
        self._ask_each_once("stop")

    def all_stopped(self) -> bool:
        """True when every listener has stopped."""
        return all(listener.status.state is ListenerState.STOPPED for listener in self._listeners)

    def _ask_each_once(self, verb: str) -> None:
        # once: the main loop looks after every wake-up, and a listener hears each verb once
        if verb in self._asked:
            return
        self._asked.add(verb)
        ask = methodcaller(verb)
        for listener in self._listeners:
            ask(listener)
