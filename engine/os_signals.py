"""Signal capture for process mode: handlers only enqueue; a thread does the work."""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger("engine.server")

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGQUIT")
QUIET_SIGNALS = ("SIGTSTP",)
DUMP_SIGNALS = ("SIGTTIN",)


@contextmanager
def captured(on_signal: Callable[[str], None]) -> Iterator[None]:
    """Route handled signals to ``on_signal`` on a dedicated thread; restore handlers after.

    A stop signal captured meanwhile is then delivered again, once, to the handler it was
    taken from when that is the embedding program's own (a Python callable): it asked to
    hear of it, and the app's graceful stop has run first. Python's and the system's defaults
    get nothing: a KeyboardInterrupt or a kill after a graceful stop would overrule the exit
    code ``engine server`` picks.
    """
    received: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    stops: list[int] = []  # appended in the handler only (main thread), read after restoring

    def handler(number: int, frame: FrameType | None) -> None:
        # SimpleQueue.put is reentrant: safe even if the main thread is inside a put
        received.put(signal.Signals(number).name)
        if signal.Signals(number).name in STOP_SIGNALS and number not in stops:
            stops.append(number)

    previous: dict[int, Any] = {}
    for name in (*STOP_SIGNALS, *QUIET_SIGNALS, *DUMP_SIGNALS):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handler)
    worker = threading.Thread(target=_serve, args=(received, on_signal),
                              name="engine.signals", daemon=True)
    worker.start()
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
        received.put(None)
        worker.join(1.0)
    _deliver_again(stops, previous)


def _deliver_again(stops: list[int], previous: dict[int, Any]) -> None:
    """Raise each captured stop signal again, latest first, where its old handler is Python's."""
    for number in reversed(stops):
        old = previous.get(number)
        if callable(old) and old is not signal.default_int_handler:
            signal.raise_signal(number)  # runs ``old`` on this (the main) thread before returning


def _serve(received: queue.SimpleQueue[str | None], on_signal: Callable[[str], None]) -> None:
    while (name := received.get()) is not None:
        try:
            on_signal(name)
        except Exception:
            log.exception("handling %s failed", name)


def dump_stacks() -> None:
    """Log every thread's current stack (SIGTTIN)."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        log.warning("thread %s (%s):\n%s", names.get(ident, "?"), ident, stack)
