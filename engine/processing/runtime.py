"""What a running consumer can do to its partition: mark, commit, pause, seek, produce."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.messages import Message

if TYPE_CHECKING:
    from engine.consumer import SeekTarget
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.processing.partition import Partition
    from engine.producer import Producer


class Runtime:
    """The engine side of one consumer instance (``Consumer._runtime``).

    A thin adaptor: every verb goes to the partition's ``Partition``; ``batch`` is the batch
    the running job handed over (set by the executor before ``consume``).
    """

    __slots__ = ("_monitor", "_producer", "_state", "batch", "consumer")

    def __init__(self, state: Partition, producer: Producer, monitor: Monitor) -> None:
        self._state = state
        self._producer = producer
        self._monitor = monitor
        self.batch: Messages | None = None
        self.consumer: Any = None

    @property
    def state(self) -> Partition:
        """The delivery state of the partition this runtime serves."""
        return self._state

    @property
    def attempt(self) -> int:
        """1 on a batch's first try."""
        return self._state.attempt

    @property
    def is_revoked(self) -> bool:
        """Whether the partition is no longer ours."""
        return self._state.is_revoked

    def mark_as_consumed(self, message: Message, sync: bool) -> bool:
        """Store ``message.offset + 1``; False when the partition was lost."""
        state = self._state
        if not state.mark(message.offset):
            return False
        return state.commit(sync=True) if sync else True

    @property
    def lag(self) -> int | None:
        """Messages between the end of the current batch and the high watermark."""
        batch = self.batch
        high = self._state.high_watermark()
        if high is None or batch is None or not len(batch):
            return None
        return max(0, high - (batch.metadata.last_offset + 1))

    def commit_offsets(self, sync: bool) -> bool:
        """Commit what was stored; False when the partition was lost."""
        return self._state.commit(sync)

    def pause(self, offset: int | None, timeout: float | None) -> None:
        """Pause the partition; resume at ``offset`` (default: after the current batch)."""
        state = self._state
        if offset is None:
            batch = self.batch
            offset = (batch.metadata.last_offset + 1 if batch is not None and len(batch)
                      else state.first_unmarked)
        timeout = state.backoff() if timeout is None else timeout
        if offset is not None:
            state.pause_at(offset, timeout, manual=True)
        self._monitor.instrument(
            "consumer.consuming.pause", self.consumer, topic=state.topic,
            partition=state.partition, offset=offset, timeout=timeout,
            attempt=state.attempt, manual=True,
        )

    def resume(self) -> None:
        """Resume now."""
        self._state.resume()

    def seek(self, target: SeekTarget) -> None:
        """Continue from an offset, a datetime, or "earliest"/"latest"."""
        if not isinstance(target, (int, datetime, str)) or isinstance(target, bool):
            raise TypeError(f"seek takes an offset, datetime, 'earliest' or 'latest' ({target!r})")
        if isinstance(target, str) and target not in ("earliest", "latest"):
            raise ValueError(f"seek takes 'earliest' or 'latest' as text (got {target!r})")
        state = self._state
        offset = state.seek(target)
        self._monitor.instrument("consumer.consuming.seek", self.consumer, topic=state.topic,
                                 partition=state.partition, offset=offset)

    def produce(self, topic: str, value: Any, sync: bool, **options: Any) -> None:
        """Send through the app's shared producer."""
        self._producer.produce(topic, value, sync=sync, **options)
