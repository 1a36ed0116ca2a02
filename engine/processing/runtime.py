"""What a running consumer can do to its partition: mark, commit, pause, seek, produce."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.messages import Message

if TYPE_CHECKING:
    from engine.consumer import SeekTarget
    from engine.processing.executor import Executor


class Runtime:
    """The engine side of one consumer instance (``Consumer._runtime``)."""

    __slots__ = ("_executor",)

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    @property
    def attempt(self) -> int:
        """1 on a batch's first try."""
        return self._executor.coordinator.pause_tracker.attempt

    @property
    def is_revoked(self) -> bool:
        """Whether the partition is no longer ours."""
        return self._executor.coordinator.revoked

    def mark_as_consumed(self, message: Message, sync: bool) -> bool:
        """Store ``message.offset + 1``; False when the partition was lost."""
        return self.mark_offset(message.offset, sync)

    def mark_offset(self, offset: int, sync: bool) -> bool:
        """Store ``offset + 1``; False when the partition was lost."""
        executor = self._executor
        coordinator = executor.coordinator
        if coordinator.revoked:
            return False
        if not executor.client.store_offset(executor.topic, executor.partition, offset + 1):
            coordinator.revoked = True
            return False
        coordinator.marked(offset)
        return executor.client.commit(sync=True) if sync else True

    @property
    def lag(self) -> int | None:
        """Messages between the end of the current batch and the high watermark."""
        executor = self._executor
        high = executor.client.high_watermark(executor.topic, executor.partition)
        messages = executor.consumer.messages if executor.consumer else None
        if high is None or messages is None or not len(messages):
            return None
        return max(0, high - (messages.metadata.last_offset + 1))

    def commit_offsets(self, sync: bool) -> bool:
        """Commit what was stored; False when the partition was lost."""
        if self._executor.coordinator.revoked:
            return False
        return self._executor.client.commit(sync=sync)

    def pause(self, offset: int | None, timeout: float | None) -> None:
        """Pause the partition; resume at ``offset`` (default: after the current batch)."""
        executor = self._executor
        if offset is None:
            messages = executor.consumer.messages if executor.consumer else None
            if messages is not None:
                offset = messages.metadata.last_offset + 1
            else:
                offset = executor.coordinator.seek_offset
        executor.pause(offset, timeout, manual=True)

    def resume(self) -> None:
        """Resume now."""
        self._executor.resume()

    def seek(self, target: SeekTarget) -> None:
        """Continue from an offset, a datetime, or "earliest"/"latest"."""
        if not isinstance(target, (int, datetime, str)) or isinstance(target, bool):
            raise TypeError(f"seek takes an offset, datetime, 'earliest' or 'latest' ({target!r})")
        if isinstance(target, str) and target not in ("earliest", "latest"):
            raise ValueError(f"seek takes 'earliest' or 'latest' as text (got {target!r})")
        self._executor.seek(target)

    def produce(self, topic: str, value: Any, sync: bool, **options: Any) -> None:
        """Send through the app's shared producer."""
        self._executor.producer.produce(topic, value, sync=sync, **options)
