"""The one way a partition's context reaches the client: store, commit and seek offsets.

``engine.connection.client.Client`` is one; a long-running job gets one whose calls the
listener makes (``engine.connection.handle_calls.RoutedOffsets``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END


class OffsetsPort(Protocol):
    """Offsets and reads a running consumer needs from the client, answered at once.

    The consumer's own seek is here, not among the listener's effects: a refused seek
    raises ``SeekError`` inside ``consume`` (its batch fails), so it needs its answer now.
    """

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        """Store ``offset`` (the next to read), with ``metadata``, for the next commit.

        False when the partition is not ours.
        """
        ...

    def committed(self, topic: str, partition: int) -> tuple[int, str | None] | None:
        """The group's committed offset of a partition and its metadata; None if none."""
        ...

    def commit(self, sync: bool) -> bool:
        """Commit what was stored; False when the commit failed."""
        ...

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        """Fetch from ``offset`` next (the consumer's own seek); False when refused."""
        ...

    def assignment_lost(self) -> bool:
        """Whether librdkafka has given this member's partitions up, as far as it tells."""
        ...

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's end offset as the last fetch reported it; None until known."""
        ...

    def offset_for_time(self, topic: str, partition: int, moment: datetime) -> int:
        """The first offset at or after ``moment`` (the end when there is none)."""
        ...

    def group_metadata(self) -> Any:
        """The consumer's group metadata, for ``send_offsets_to_transaction`` (KIP-447)."""
        ...


_SEEK_WORDS = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}


def seek_offset(target: int | datetime | str, offset_for_time: Callable[[datetime], int]) -> int:
    """The offset a seek target names.

    An offset is itself, "earliest"/"latest" are ``OFFSET_BEGINNING``/``OFFSET_END``, and a
    time is what ``offset_for_time`` finds for it.
    """
    if isinstance(target, datetime):
        return offset_for_time(target)
    if isinstance(target, str):
        return _SEEK_WORDS[target]
    return target
