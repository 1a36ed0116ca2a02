"""One partition's in-flight offsets across its virtual partitions, and the watermark they allow.

Pure: no I/O, no threads, no locks; its owner serialises the calls. A batch is delivered as split,
one increasing list per virtual partition; marking an offset marks the earlier ones of its own
virtual partition only. The watermark is the first offset not processed in any virtual
partition: the offset to commit. Offsets missing from a delivery (compacted away, transaction
markers) are never waited for. Processed offsets above the watermark are kept (for the commit's
metadata, see ``metadata``) and forgotten once the watermark passes them.

After a failed batch, ``release()`` drops the unprocessed in-flight offsets and keeps the
processed ones: the retry delivers again from the watermark, skipping ``completed_above()``.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence


class Watermark:
    """In-flight offsets of one partition, starting at ``position`` (its committed offset)."""

    def __init__(self, position: int, completed: Iterable[int] = ()) -> None:
        """Start at ``position``; ``completed`` holds offsets above it already processed."""
        self._next = position  # the first offset a delivery may carry
        self._pending: dict[int, deque[int]] = {}  # virtual partition -> unprocessed offsets
        self._owner: dict[int, int] = {}  # unprocessed offset -> its virtual partition
        self._done: list[int] = []  # a heap of processed offsets, above the watermark once pruned
        self._done_set: set[int] = set()
        for offset in completed:
            if offset <= position:
                raise ValueError(f"completed offset {offset} is not above position {position}")
            self._remember(offset)
        self._settle()

    def deliver(self, batch: Sequence[Iterable[int]], last: int | None = None) -> None:
        """Put a split batch in flight: ``batch[i]`` holds virtual partition ``i``'s offsets.

        Each list increases; every offset is new (at or above the end of earlier deliveries,
        in no other list, not processed already). ``last``: the batch's last fetched offset,
        when a retry left out its last messages as processed already; offsets up to it that
        are neither delivered nor processed are gaps.
        """
        lists = [list(offsets) for offsets in batch]
        self._check_new(lists)  # before any change: a refused delivery leaves no trace
        highest = max([offsets[-1] for offsets in lists if offsets], default=None)
        if last is not None and highest is not None and last < highest:
            raise ValueError(f"last offset {last} is below the batch's offset {highest}")
        for virtual_partition, offsets in enumerate(lists):
            self._pending.setdefault(virtual_partition, deque()).extend(offsets)
            self._owner.update(dict.fromkeys(offsets, virtual_partition))
        self._next = max([self._next - 1, *(x for x in (highest, last) if x is not None)]) + 1
        self._settle()

    def mark(self, offset: int) -> None:
        """Mark ``offset`` and the earlier unprocessed ones of its virtual partition processed."""
        if offset in self._done_set or offset < self.watermark:
            return  # marked already: marking is idempotent
        if offset not in self._owner:
            raise ValueError(f"offset {offset} is not in flight")
        queue = self._pending[self._owner[offset]]
        while queue and queue[0] <= offset:
            done = queue.popleft()
            del self._owner[done]
            self._remember(done)
        self._settle()

    @property
    def watermark(self) -> int:
        """The first offset not processed in any virtual partition."""
        heads = [queue[0] for queue in self._pending.values() if queue]
        return min(heads) if heads else self._next

    @property
    def delivered_end(self) -> int:
        """The first offset a delivery may carry: one past the last delivered (or skipped)."""
        return self._next

    def completed_above(self) -> list[int]:
        """Processed offsets above the watermark, in increasing order."""
        return sorted(self._done)

    def in_flight(self) -> int:
        """How many delivered offsets are not processed yet."""
        return len(self._owner)

    def release(self) -> None:
        """Drop every unprocessed in-flight offset (a failed batch); the watermark stays put."""
        self._next = self.watermark
        self._pending.clear()
        self._owner.clear()
        self._settle()

    def _check_new(self, lists: list[list[int]]) -> None:
        seen: set[int] = set()
        for offsets in lists:
            for previous, offset in zip([None, *offsets], offsets, strict=False):
                if offset < self._next:
                    raise ValueError(f"offset {offset} is below {self._next}, delivered already")
                if previous is not None and offset <= previous:
                    raise ValueError(f"offset {offset} follows {previous}: not increasing")
                if offset in seen or offset in self._owner:
                    raise ValueError(f"offset {offset} is delivered twice")
                if offset in self._done_set:
                    raise ValueError(f"offset {offset} is already processed")
                seen.add(offset)

    def _remember(self, offset: int) -> None:
        heapq.heappush(self._done, offset)
        self._done_set.add(offset)

    def _settle(self) -> None:
        """Step over processed offsets when nothing is in flight; forget those below the mark."""
        if not self._owner:
            while self._next in self._done_set:
                self._next += 1
        watermark = self.watermark
        while self._done and self._done[0] < watermark:
            self._done_set.discard(heapq.heappop(self._done))
