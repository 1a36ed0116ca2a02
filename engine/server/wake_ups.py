"""The server's wake-ups: any thread nudges its main loop, which otherwise sleeps a tick."""

from __future__ import annotations

import queue


class WakeUps:
    """Any thread ``wake``s the server's main loop; the loop ``wait``s for one or a timeout.

    (Not an OS signal, nor a blinker signal: a plain wake-up. Karafka calls it the conductor.)
    """

    def __init__(self) -> None:
        self._wake_ups: queue.SimpleQueue[None] = queue.SimpleQueue()

    def wake(self) -> None:
        """Wake the main loop (safe from any thread, cheap, never blocks)."""
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
