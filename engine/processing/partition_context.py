"""What a running consumer can do to its partition: mark, commit, pause, seek, produce."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.aio.guards import on_loop, refuse_on_loop, running_loop
from engine.aio.off_loop import off_loop
from engine.errors import SeekError, TransactionError
from engine.messages import Message
from engine.processing.effects import Seek
from engine.processing.offsets_port import seek_offset

if TYPE_CHECKING:
    from engine.consumer import SeekTarget
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.processing.effects import Effect
    from engine.processing.offsets_port import OffsetsPort
    from engine.processing.partition_state import PartitionState, Retry
    from engine.producer import Producer
    from engine.transactions.block import TransactionBlock
    from engine.transactions.partition import PartitionTransactions


class PartitionContext:
    """The engine side of one partition's consumer (``Consumer._runtime``) and strategy.

    Offsets go through the offsets port at once (a mark's answer matters now). What the
    client must do to the partition (pause, seek) is kept as effects for the listener, which
    applies them once the job is over (``take_effects``): the listener alone moves a
    partition's fetch position. ``batch`` is the batch the running job handed over (set by
    the executor before ``consume``).
    """

    __slots__ = ("_effects", "_monitor", "_port", "_producer", "batch", "consumer",
                 "partition", "state", "topic", "transactions")

    event_tags: Mapping[str, object] = MappingProxyType({})
    """Fields the partition's events carry beyond topic and partition (none here)."""

    def __init__(self, state: PartitionState, port: OffsetsPort, producer: Producer,
                 monitor: Monitor) -> None:
        self.state = state
        self.topic, self.partition = state.topic, state.partition
        self._port = port
        self._producer = producer
        self._monitor = monitor
        self._effects: list[Effect] = []
        self.batch: Messages | None = None
        self.consumer: Any = None
        self.transactions: PartitionTransactions | None = None
        """Set on an app with ``transactional_id``: offsets then move only in transactions."""

    # -- reads ---------------------------------------------------------------------------------

    @property
    def attempt(self) -> int:
        """1 on a batch's first try."""
        return self.state.attempt

    @property
    def is_revoked(self) -> bool:
        """Whether the partition is no longer ours.

        Decided by what librdkafka reports: a revocation, a store or commit refused for a
        lost assignment, or a poll overdue past ``max.poll.interval.ms`` (librdkafka has left
        the group by then, although its callback only comes with the next poll).
        """
        return self.state.is_revoked or self._port.assignment_lost()

    @property
    def lag(self) -> int | None:
        """Messages between the end of the current batch and the high watermark."""
        batch = self.batch
        high = self._port.high_watermark(self.topic, self.partition)
        if high is None or batch is None or not len(batch):
            return None
        return max(0, high - (batch.metadata.last_offset + 1))

    # -- offsets, at once ----------------------------------------------------------------------

    def mark(self, offset: int) -> bool:
        """Store ``offset + 1`` for the next commit; False when the partition is not ours."""
        if self.is_revoked:
            return False
        if self.transactions is not None:
            self.transactions.mark_offset(offset)  # committed once the batch settles
            return True
        if not self._port.store_offset(self.topic, self.partition, offset + 1):
            self.state.store_refused()
            return False
        self.state.marked(offset)
        return True

    def commit(self, sync: bool) -> bool:
        """Commit what was stored; False when the partition is not ours.

        On a transactional app an asynchronous commit asked for on the event loop leaves the
        pending mark to the batch's settling (its transaction must not block the loop).
        """
        if self.is_revoked:
            return False
        if self.transactions is not None:
            self.transactions.refuse_commit()
            if sync or not on_loop():
                self.transactions.commit_pending()
            return not self.is_revoked
        return self._port.commit(sync) and not self.is_revoked

    def commit_pending(self) -> None:
        """On a transactional app: commit the batch's pending mark in an offsets-only one."""
        if self.transactions is not None:
            self.transactions.commit_pending()

    def transaction(self) -> TransactionBlock:
        """A Kafka transaction of this partition (``Consumer.transaction``)."""
        if self.transactions is None:
            raise TransactionError(
                "transaction() needs the app's transactional_id (App(...,"
                " transactional_id='my-service'))")
        return self.transactions.transaction()

    # -- effects, for the listener -------------------------------------------------------------

    def fail(self, offsets: Iterable[int] = ()) -> Retry | None:
        """Retry from the first unmarked offset after a back-off (see ``PartitionState.fail``)."""
        retry = self.state.fail(offsets)
        if retry is not None:
            self._effects += retry.effects
        return retry

    def pause_at(self, offset: int, timeout: float, manual: bool) -> None:
        """Pause for ``timeout`` seconds, then fetch from ``offset``."""
        self._effects += self.state.pause_at(offset, timeout, manual)

    def take_effects(self) -> list[Effect]:
        """What the client must now do to the partition, in order (the listener applies it)."""
        effects = self._effects
        if effects:  # the common case allocates nothing
            self._effects = []
        return effects

    # -- the consumer's runtime ------------------------------------------------------------------

    def mark_as_consumed(self, message: Message, sync: bool) -> bool:
        """Store ``message.offset + 1``; False when the partition was lost."""
        if sync:
            refuse_on_loop("mark_as_consumed(sync=True)",
                           "mark_as_consumed(message), then await self.commit_offsets_async()")
        if self.transactions is not None and self.transactions.is_open:
            if self.is_revoked:
                return False
            self.transactions.mark(message)
            return True
        if not self.mark(message.offset):
            return False
        return self.commit(sync=True) if sync else True

    def commit_offsets(self, sync: bool) -> bool:
        """Commit what was stored; False when the partition was lost."""
        if sync:
            refuse_on_loop("commit_offsets(sync=True)", "await self.commit_offsets_async()")
        return self.commit(sync)

    def pause(self, offset: int | None, timeout: float | None) -> None:
        """Pause the partition; resume at ``offset`` (default: after the current batch)."""
        state = self.state
        if offset is None:
            batch = self.batch
            offset = (batch.metadata.last_offset + 1 if batch is not None and len(batch)
                      else state.first_unmarked)
        timeout = state.backoff() if timeout is None else timeout
        if offset is not None:
            self.pause_at(offset, timeout, manual=True)
        self._monitor.instrument(
            "consumer.consuming.pause", self.consumer, topic=self.topic,
            partition=self.partition, offset=offset, timeout=timeout,
            attempt=state.attempt, manual=True, **self.event_tags,
        )

    def resume(self) -> None:
        """Resume now."""
        self.state.resume()

    def seek(self, target: SeekTarget) -> None:
        """Continue from an offset, a datetime, or "earliest"/"latest".

        Made at once through the offsets port: a refusal raises ``SeekError`` here.
        """
        if not isinstance(target, (int, datetime, str)) or isinstance(target, bool):
            raise TypeError(f"seek takes an offset, datetime, 'earliest' or 'latest' ({target!r})")
        if isinstance(target, str) and target not in ("earliest", "latest"):
            raise ValueError(f"seek takes 'earliest' or 'latest' as text (got {target!r})")
        offset = seek_offset(target, self._offset_for_time)
        if not self._port.seek(self.topic, self.partition, offset):
            raise SeekError(f"cannot seek {self.topic}/{self.partition} to {target!r}"
                            " (see the error event)")
        if self._effects:  # a pause asked for earlier in the job must not seek back over it
            self._effects = [effect for effect in self._effects if not isinstance(effect, Seek)]
        self.state.sought(target if isinstance(target, int) else offset if offset >= 0 else None)
        self._monitor.instrument("consumer.consuming.seek", self.consumer, topic=self.topic,
                                 partition=self.partition, offset=offset, **self.event_tags)

    def produce(self, topic: str, value: Any, sync: bool, **options: Any) -> None:
        """Send through the app's shared producer."""
        if sync:
            refuse_on_loop("produce_sync", "await self.produce_async(...)")
        if self.transactions is not None and self.transactions.is_open:
            self.transactions.sender.sender.produce(topic, value, sync=sync, **options)
            return
        self._producer.produce(topic, value, sync=sync, **options)

    def produce_async(self, topic: str, value: Any, **options: Any) -> Awaitable[None]:
        """Send through the app's shared producer from the loop (enqueued now).

        Inside a transaction: through the transaction's producer (it joins the transaction).
        """
        if self.transactions is not None and self.transactions.is_open:
            return self.transactions.sender.sender.produce_async(topic, value, **options)
        return self._producer.produce_async(topic, value, **options)

    def commit_offsets_async(self) -> Awaitable[bool]:
        """A synchronous commit, made off the loop (started now)."""
        return running_loop("commit_offsets_async").create_task(off_loop(self.commit, True))

    def _offset_for_time(self, moment: datetime) -> int:
        return self._port.offset_for_time(self.topic, self.partition, moment)
