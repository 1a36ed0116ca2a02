"""The conductor: a wake-up call for the runner whenever any state changes."""

from __future__ import annotations

import queue


class Conductor:
    """Any thread ``signal``s; the runner ``wait``s for a signal or a timeout."""

    def __init__(self) -> None:
        self._signals: queue.SimpleQueue[None] = queue.SimpleQueue()

    def signal(self) -> None:
        """Wake the runner (safe from any thread, cheap, never blocks)."""
        self._signals.put(None)

    def wait(self, timeout: float) -> None:
        """Block until signalled or ``timeout`` passes; absorbs signals already queued."""
        try:
            self._signals.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            try:
                self._signals.get_nowait()
            except queue.Empty:
                return
