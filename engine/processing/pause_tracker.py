"""Back-off for one partition: how long the next pause lasts, and when it ends."""

from __future__ import annotations

import time


class PauseTracker:
    """Counts attempts and times pauses: ``timeout * 2**(attempt-1)``, capped."""

    __slots__ = ("_exponential", "_max_timeout", "_timeout", "attempt", "paused_until")

    def __init__(self, timeout: float, max_timeout: float, exponential: bool) -> None:
        self._timeout = timeout
        self._max_timeout = max_timeout
        self._exponential = exponential
        self.attempt = 0
        self.paused_until: float | None = None

    def backoff(self) -> float:
        """The pause after a failure of the current attempt (1 s, 2 s, 4 s ... by default)."""
        if not self._exponential:
            return self._timeout
        return float(min(self._timeout * 2.0 ** max(0, self.attempt - 1), self._max_timeout))

    def pause(self, timeout: float, now: float | None = None) -> None:
        """Pause until ``timeout`` seconds from now."""
        self.paused_until = (time.monotonic() if now is None else now) + timeout

    @property
    def is_paused(self) -> bool:
        """Whether a pause is set (expired or not)."""
        return self.paused_until is not None

    def expired(self, now: float) -> bool:
        """Whether a pause is set and its time is up."""
        return self.paused_until is not None and now >= self.paused_until

    def resume(self) -> None:
        """Clear the pause."""
        self.paused_until = None

    def reset(self) -> None:
        """Start counting attempts afresh (after a success)."""
        self.attempt = 0
