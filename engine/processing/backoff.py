"""Back-off after a failure: how long a partition pauses before its next attempt."""

from __future__ import annotations

from dataclasses import dataclass

# Doublings past this many change nothing (any cap is reached long before), and 2.0 ** 1024
# overflows a float: the exponent is clamped before computing, however many attempts failed.
MAX_DOUBLINGS = 64


@dataclass(frozen=True)
class Backoff:
    """``timeout * 2**(attempt-1)`` capped at ``max_timeout`` (or ``timeout`` flat)."""

    timeout: float
    max_timeout: float
    exponential: bool = True

    def after(self, attempt: int) -> float:
        """The pause after attempt ``attempt`` failed (1 s, 2 s, 4 s ... by default).

        Defined for every attempt count: past the cap it stays at ``max_timeout``.
        """
        if not self.exponential:
            return self.timeout
        doublings = min(max(0, attempt - 1), MAX_DOUBLINGS)
        return float(min(self.timeout * 2.0 ** doublings, self.max_timeout))
