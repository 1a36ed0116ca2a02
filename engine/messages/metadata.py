"""Facts about one batch: where it comes from and how late it is."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.messages.message import RawMessage


class BatchMetadata:
    """Topic, partition, offsets and timing of one batch; lags are in seconds."""

    __slots__ = ("_raws", "partition", "polled_at", "processed_at", "topic", "wall_offset")

    def __init__(
        self, raws: Sequence[RawMessage], topic: str, partition: int, polled_at: float
    ) -> None:
        self._raws = raws
        self.topic = topic
        self.partition = partition
        self.polled_at = polled_at
        self.processed_at: float | None = None
        # wall time minus the engine's clock; None: the real clocks (the testing kit's
        # virtual clock sets its own)
        self.wall_offset: float | None = None

    @property
    def size(self) -> int:
        """How many messages the batch holds."""
        return len(self._raws)

    @property
    def first_offset(self) -> int:
        """Offset of the first message (-1 for an empty batch)."""
        return self._raws[0].offset() or 0 if self._raws else -1

    @property
    def last_offset(self) -> int:
        """Offset of the last message (-1 for an empty batch)."""
        return self._raws[-1].offset() or 0 if self._raws else -1

    @property
    def created_at(self) -> datetime | None:
        """Timestamp of the newest message, UTC."""
        if not self._raws:
            return None
        kind, millis = self._raws[-1].timestamp()
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc) if kind else None

    @property
    def consumption_lag(self) -> float | None:
        """Seconds from the newest message's creation to the start of processing."""
        created = self.created_at
        if created is None or self.processed_at is None:
            return None
        offset = self.wall_offset
        if offset is None:
            offset = time.time() - time.monotonic()
        return max(0.0, self.processed_at + offset - created.timestamp())

    @property
    def processing_lag(self) -> float | None:
        """Seconds from the poll that fetched the batch to the start of processing."""
        if self.processed_at is None:
            return None
        return self.processed_at - self.polled_at
