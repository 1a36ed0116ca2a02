"""``VirtualContext``: the runtime of one virtual partition's consumer.

Each virtual partition of a real partition has one, built by its ``VirtualBatch`` with the
virtual partition's executor and kept across batches. Its marks go through the batch's
watermark (under the partition's lock), and a pause or a seek acts on the real partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.processing.partition_context import PartitionContext

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.consumer import SeekTarget
    from engine.instrumentation.monitor import Monitor
    from engine.processing.offsets_port import OffsetsPort
    from engine.processing.partition_state import PartitionState
    from engine.processing.virtual_batch import VirtualBatch
    from engine.producer import Producer
    from engine.virtual.shared_lock import SharedLock


class VirtualContext(PartitionContext):
    """One virtual partition's context (its consumer's runtime).

    Marks go through the partition's watermark; a pause or a seek acts on the real partition
    (under the partition's lock) and turns off this virtual partition's automatic marking.
    """

    __slots__ = ("_tags", "_virtual", "collapsed", "manual", "virtual_partition")

    def __init__(self, virtual: VirtualBatch, index: int, state: PartitionState,
                 port: OffsetsPort, producer: Producer, monitor: Monitor) -> None:
        super().__init__(state, port, producer, monitor)
        self._virtual = virtual
        self.virtual_partition = index
        self._tags = {"virtual_partition": index}
        self.collapsed = False
        self.manual = False  # the consumer paused or sought during this batch

    @property
    def event_tags(self) -> Mapping[str, object]:  # type: ignore[override]
        """Events about this virtual partition name it."""
        return self._tags

    @property
    def shared_lock(self) -> SharedLock:
        """The lock ``Consumer.synchronize`` holds, one per real partition."""
        return self._virtual.shared_lock

    def mark(self, offset: int) -> bool:
        """Mark ``offset`` (and the earlier ones of this virtual partition) processed."""
        if self.is_revoked:
            return False
        return self._virtual.mark(offset)

    def checkpoint(self) -> None:
        """Store the watermark with what is done above it (once per sub-batch)."""
        self._virtual.checkpoint()

    def pause_at(self, offset: int, timeout: float, manual: bool) -> None:
        """Pause the real partition (see ``PartitionContext.pause_at``).

        The consumer's own pause at an offset below the watermark re-reads from there, as a
        seek back does (the watermark restarts); the engine's never goes back over marks.
        """
        if manual:
            self.manual = True
        with self._virtual.lock:
            super().pause_at(offset, timeout, manual)
            if manual:
                self._virtual.paused = True

    def seek(self, target: SeekTarget) -> None:
        """Move the real partition's fetch position (see ``PartitionContext.seek``).

        The next batch starts the watermark afresh where it begins: as on any topic, what
        the consumer skips or re-reads by seeking is its choice.
        """
        self.manual = True
        with self._virtual.lock:
            super().seek(target)
            self._virtual.sought = True
