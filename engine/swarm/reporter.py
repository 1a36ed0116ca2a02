"""Inside a node: tell the supervisor how long the slowest running listener has been stuck.

A report is one line, the seconds since the least recent fetch-loop turn of a running
listener (0 when none runs), written a few times per second on the node's pipe. A listener
waiting for a hung consumer stops turning its loop, so the supervisor sees the age grow. A
supervisor that went away (a closed pipe, or this process re-parented) stops the node.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.lifecycle import ListenerState

if TYPE_CHECKING:
    from engine.app import App

REPORT_EVERY = 0.25  # seconds between two reports
log = logging.getLogger("engine.swarm")


class NodeReporter:
    """Follows the node's listeners through events and reports on thread ``engine.reporter``."""

    def __init__(self, app: App, writer: int, supervisor: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._writer = writer
        self._clock = clock
        self._supervisor = supervisor
        self._lock = threading.Lock()
        self._turned: dict[str, float] = {}  # running listener -> its last fetch-loop turn
        self._stopping = False
        monitor = app.monitor
        monitor.subscribe("connection.listener.fetch_loop", self._on_turn)
        monitor.subscribe("connection.listener.running", self._on_turn)
        for state in (ListenerState.QUIETING, ListenerState.STOPPING, ListenerState.STOPPED):
            monitor.subscribe(f"connection.listener.{state.value}", self._on_leave)

    def start(self) -> None:
        """Report from now on."""
        threading.Thread(target=self._run, name="engine.reporter", daemon=True).start()

    def age(self) -> float:
        """Seconds since the least recent turn of a running listener."""
        now = self._clock()
        with self._lock:
            return max((now - turned for turned in self._turned.values()), default=0.0)

    def _run(self) -> None:
        while True:
            if os.getppid() != self._supervisor:
                self._orphaned("the supervisor is gone")
                return
            try:
                os.write(self._writer, f"{self.age():.3f}\n".encode())
            except OSError:
                self._orphaned("the supervisor's pipe closed")
                return
            time.sleep(REPORT_EVERY)  # a reporting cadence, not a synchronisation

    def _orphaned(self, why: str) -> None:
        if not self._stopping:
            self._stopping = True
            log.warning("%s: stopping this node", why)
            os.kill(os.getpid(), signal.SIGTERM)

    def _on_turn(self, sender: Any, **event: Any) -> None:
        with self._lock:
            self._turned[event["subscription_group"]] = self._clock()

    def _on_leave(self, sender: Any, **event: Any) -> None:
        with self._lock:
            self._turned.pop(event["subscription_group"], None)
