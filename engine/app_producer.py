"""The app's shared producer as code outside consumers uses it (a web handler, a script)."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import TYPE_CHECKING, Any

from engine.errors import NotRunningError
from engine.lifecycle.app_state import AppState

if TYPE_CHECKING:
    from engine.lifecycle.lifecycle import Lifecycle
    from engine.producer import Producer

log = logging.getLogger("engine.producer")


class AppProducer:
    """Sends through the producer the consumers share, never where a send could be lost.

    Refused (``NotRunningError``) in a swarm's supervisor (its nodes hold the clients) and
    once the app stopped (the producer is closed). Allowed before a start (a process that only
    produces) and while the app runs. What was sent is flushed by the app's stop, or at the
    latest when the interpreter exits (within ``exit_timeout``; what is left is reported).
    """

    def __init__(self, producer: Producer, lifecycle: Lifecycle, exit_timeout: float) -> None:
        self._producer = producer
        self._lifecycle = lifecycle
        self._exit_timeout = exit_timeout
        self._lock = threading.Lock()
        self._flush_at_exit = False

    def send(self, topic: str, value: Any, *, sync: bool, **options: Any) -> None:
        """Send one message as ``Consumer.produce`` (or ``produce_sync``) does."""
        self._check()
        if not self._flush_at_exit:
            self._register_exit_flush()
        self._producer.produce(topic, value, sync=sync, **options)

    def _check(self) -> None:
        state = self._lifecycle.state
        if state is AppState.SUPERVISING:
            raise NotRunningError("a swarm's supervisor does not produce (a client there would"
                                  " be copied into every node): produce in the nodes")
        if self._lifecycle.reached(AppState.STOPPED) or self._producer.closed:
            raise NotRunningError("this app stopped and closed its producer: build a new App"
                                  " to produce again")

    def _register_exit_flush(self) -> None:
        with self._lock:
            if not self._flush_at_exit:
                self._flush_at_exit = True
                atexit.register(self.flush_at_exit)

    def flush_at_exit(self) -> None:
        """Close the producer if the app's stop did not (an app never started, say)."""
        if self._producer.closed:
            return
        left = self._producer.close(self._exit_timeout)
        if left:
            log.warning("%d message(s) sent through the app were not delivered within %.0f s"
                        " before the interpreter exited", left, self._exit_timeout)
