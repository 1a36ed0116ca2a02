"""The harness's virtual clock: back-offs, pauses and waits pass without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
"""The wall time a harness starts at unless given ``epoch=``: the same on every run."""

Epoch = datetime | float | int


class VirtualClock:
    """Seconds that move only when told to (``advance``) or when the harness waits.

    ``now()`` is what the engine reads instead of ``time.monotonic()``; ``wall()`` is the
    matching UTC wall time in seconds (message timestamps), starting at ``epoch`` (``EPOCH``
    unless given: a timezone-aware datetime or Unix seconds). ``on_advance`` callbacks hear
    every move (librdkafka's timers, such as the background auto-commit, run on them).
    """

    def __init__(self, epoch: Epoch | None = None) -> None:
        self._now = 0.0
        self._wall_at_zero = wall_seconds(EPOCH if epoch is None else epoch)
        self._listeners: list[Callable[[float], None]] = []

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
        self._moved(self._now + seconds)

    def advance_to(self, moment: float) -> None:
        """Move time forward to ``moment`` (no-op if it is already later)."""
        self._moved(max(self._now, moment))

    def on_advance(self, listener: Callable[[float], None]) -> Callable[[], None]:
        """Call ``listener(now)`` after every move of the clock; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _moved(self, moment: float) -> None:
        if moment == self._now:
            return
        self._now = moment
        for listener in list(self._listeners):  # a listener may unsubscribe itself
            listener(moment)

    def __repr__(self) -> str:
        """The virtual time."""
        return f"<VirtualClock {self._now:.3f}s>"


def wall_seconds(epoch: Epoch) -> float:
    """``epoch`` as Unix seconds: a naive datetime is refused (its zone would be a guess)."""
    if isinstance(epoch, datetime):
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            raise ValueError(f"epoch {epoch!r} needs a timezone (tzinfo=timezone.utc, say)")
        return epoch.timestamp()
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        raise ValueError(f"epoch takes a timezone-aware datetime or Unix seconds"
                         f" (got {epoch!r})")
    return float(epoch)
