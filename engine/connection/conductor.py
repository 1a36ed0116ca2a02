"""The conductor: a wake-up call for the runner whenever any state changes."""

from __future__ import annotations

import queue


class Conductor:
    """Any thread ``wake``s the runner; the runner ``wait``s for a wake-up or a timeout.

    (Not an OS signal, nor a blinker signal: a plain wake-up.)
    """

    def __init__(self) -> None:
        self._wake_ups: queue.SimpleQueue[None] = queue.SimpleQueue()

    def wake(self) -> None:
        """Wake the runner (safe from any thread, cheap, never blocks)."""
        self._wake_ups.put(None)

    def wait(self, timeout: float) -> None:
        """Block until woken or ``timeout`` passes; absorbs wake-ups already queued."""
        try:
            self._wake_ups.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            try:
                self._wake_ups.get_nowait()
            except queue.Empty:
                return
