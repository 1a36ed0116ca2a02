"""The harness's virtual clock: back-offs, pauses and waits pass without sleeping."""

from __future__ import annotations

import time


class VirtualClock:
    """Seconds that move only when told to (``advance``) or when the harness waits.

    ``now()`` is what the engine reads instead of ``time.monotonic()``; ``wall()`` is the
    matching UTC wall time in seconds (message timestamps), starting at the real time when
    the clock was made.
    """

    def __init__(self, start_wall: float | None = None) -> None:
        self._now = 0.0
        self._wall_at_zero = time.time() if start_wall is None else start_wall

    def now(self) -> float:
        """The virtual monotonic time, in seconds (0.0 when the harness opened)."""
        return self._now

    def wall(self) -> float:
        """The virtual wall time (Unix seconds)."""
        return self._wall_at_zero + self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward (advance({seconds!r}))")
        self._now += seconds

    def advance_to(self, moment: float) -> None:
        """Move time forward to ``moment`` (no-op if it is already later)."""
        self._now = max(self._now, moment)

    def __repr__(self) -> str:
        """The virtual time."""
        return f"<VirtualClock {self._now:.3f}s>"
