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
    """Route handled signals to ``on_signal`` on a dedicated thread; restore handlers after."""
    received: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    def handler(number: int, frame: FrameType | None) -> None:
        # SimpleQueue.put is reentrant: safe even if the main thread is inside a put
        received.put(signal.Signals(number).name)

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
