"""Back-off after a failure: how long a partition pauses before its next attempt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``timeout * 2**(attempt-1)`` capped at ``max_timeout`` (or ``timeout`` flat)."""

    timeout: float
    max_timeout: float
    exponential: bool = True

    def after(self, attempt: int) -> float:
        """The pause after attempt ``attempt`` failed (1 s, 2 s, 4 s ... by default)."""
        if not self.exponential:
            return self.timeout
        return float(min(self.timeout * 2.0 ** max(0, attempt - 1), self.max_timeout))
