"""The base class users subclass to consume one partition's batches."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engine.errors import NotRunningError
from engine.messages import Message, Messages
from engine.virtual.shared_lock import NO_LOCK, NoLock, SharedLock

if TYPE_CHECKING:
    from engine.transactions.block import TransactionBlock

SeekTarget = int | datetime | Literal["earliest", "latest"]


class ConsumerRuntime(Protocol):
    """What the engine gives a consumer while it runs (implemented by the processing layer)."""

    @property
    def attempt(self) -> int: ...

    @property
    def is_revoked(self) -> bool: ...

    @property
    def lag(self) -> int | None: ...

    def mark_as_consumed(self, message: Message, sync: bool) -> bool: ...
    def commit_offsets(self, sync: bool) -> bool: ...
    def pause(self, offset: int | None, timeout: float | None) -> None: ...
    def resume(self) -> None: ...
    def seek(self, target: SeekTarget) -> None: ...
    def produce(self, topic: str, value: Any, sync: bool, **options: Any) -> None: ...
    def produce_async(self, topic: str, value: Any, **options: Any) -> Awaitable[None]: ...
    def commit_offsets_async(self) -> Awaitable[bool]: ...
    def transaction(self) -> TransactionBlock: ...


class Consumer:
    """Consumes batches of one (topic, partition); override ``consume`` and optional hooks.

    One instance serves one partition (one virtual partition on a topic with
    ``virtual_partitions``) until it is revoked; ``consume`` never runs concurrently with itself.
    """

    topic: str
    partition: int
    consumer_group: str
    messages: Messages
    _runtime: ConsumerRuntime | None = None

    def consume(self, messages: Messages) -> None:
        """Process one batch (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement consume(messages)")

    def initialized(self) -> None:
        """Called once, before this instance's first job."""

    def revoked(self) -> None:
        """Called when the partition was taken away (or lost)."""

    def shutdown(self) -> None:
        """Called when the engine stops or quiets: the last chance to flush."""

    def eofed(self) -> None:
        """Called when the partition's end was reached (needs ``enable.partition.eof``)."""

    @contextmanager
    def wrap(self, action: str) -> Iterator[None]:
        """Runs around every job ("consume", "revoked", "shutdown", "eofed", ...)."""
        yield

    @property
    def virtual_partition(self) -> int:
        """This instance's virtual partition (docs: Virtual partitions); 0 on ordinary topics."""
        index: int = getattr(self._runtime, "virtual_partition", 0)
        return index

    @property
    def collapsed(self) -> bool:
        """True while a retry runs the partition's batch in this one instance, in offset order."""
        return bool(getattr(self._runtime, "collapsed", False))

    def synchronize(self) -> SharedLock | NoLock:
        """A lock shared by the virtual partitions of this partition.

        For state the instances of one partition share: ``with self.synchronize():`` in a
        sync consumer, ``async with self.synchronize():`` in an async one (its instances are
        tasks of one thread, which a thread lock would not keep apart). On ordinary topics
        (one instance per partition) it holds nothing.
        """
        lock: SharedLock | None = getattr(self._runtime, "shared_lock", None)
        return NO_LOCK if lock is None else lock

    @property
    def attempt(self) -> int:
        """1 on a batch's first try, 2 on its first retry, and so on."""
        return self._require().attempt

    @property
    def is_retrying(self) -> bool:
        """True when this batch failed before."""
        return self._require().attempt > 1

    @property
    def is_revoked(self) -> bool:
        """True once the partition is no longer owned by this process."""
        return self._require().is_revoked

    @property
    def lag(self) -> int | None:
        """Messages left after this batch, up to the high watermark; None until known."""
        return self._require().lag

    def mark_as_consumed(self, message: Message, *, sync: bool = False) -> bool:
        """Store ``message.offset + 1`` as consumed; False when the partition was lost."""
        return self._require().mark_as_consumed(message, sync)

    def commit_offsets(self, *, sync: bool = False) -> bool:
        """Commit what was marked; False when the partition was lost."""
        return self._require().commit_offsets(sync)

    def pause(self, offset: int | None = None, timeout: float | None = None) -> None:
        """Pause this partition; resume at ``offset`` (default: after this batch)."""
        self._require().pause(offset, timeout)

    def resume(self) -> None:
        """Resume this partition now."""
        self._require().resume()

    def seek(self, offset: SeekTarget) -> None:
        """Continue from an offset, a datetime, or "earliest"/"latest"."""
        self._require().seek(offset)

    def produce(self, topic: str, value: Any, **options: Any) -> None:
        """Send a message asynchronously through the app's shared producer."""
        self._require().produce(topic, value, False, **options)

    def produce_sync(self, topic: str, value: Any, **options: Any) -> None:
        """Send a message and wait for the broker's acknowledgement."""
        self._require().produce(topic, value, True, **options)

    def produce_async(self, topic: str, value: Any, **options: Any) -> Awaitable[None]:
        """Send a message from an async consumer; await it for the broker's acknowledgement.

        The message is handed to the producer at once (sent even if never awaited); awaiting
        raises ``ProduceError`` when the send fails or is not acknowledged in time. The event
        loop runs on meanwhile. Outside an event loop: ``NotRunningError``.
        """
        return self._require().produce_async(topic, value, **options)

    def commit_offsets_async(self) -> Awaitable[bool]:
        """Commit what was marked; await it for the broker's answer (False: partition lost).

        The commit is made off the loop, started at once. (``commit_offsets()`` only asks for
        a commit and never waits: it too is fine on the loop.)
        """
        return self._require().commit_offsets_async()

    def transaction(self) -> TransactionBlock:
        """A Kafka transaction of this partition (needs the app's ``transactional_id``).

        Inside ``with self.transaction():`` (an async consumer: ``async with``) this
        consumer's ``produce``/``produce_sync``/``produce_async`` and ``mark_as_consumed``
        join one transaction: leaving the block commits the messages and
        the marked offset atomically; an exception aborts it and the batch fails (retried).
        Misuse raises ``TransactionError``: no ``transactional_id``, a nested transaction,
        marking another partition's message, ``commit_offsets`` inside.
        """
        return self._require().transaction()

    def _require(self) -> ConsumerRuntime:
        if self._runtime is None:
            raise NotRunningError(
                f"{type(self).__name__} is not attached to a running engine;"
                " runtime methods work only inside its hooks"
            )
        return self._runtime
