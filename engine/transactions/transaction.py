"""One open Kafka transaction of a partition: begin, produce, commit with offsets, or abort.

Every librdkafka call is bounded (``engine.transactions.bounded``). A call past its bound, a
fatal error or a fenced producer breaks the producer: reported (``error.occurred`` type
``transaction.error``), dropped (the next transaction builds a new one), and the batch
fails. Any other failure aborts the transaction and fails the batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from engine.errors import TransactionError
from engine.transactions.bounded import OverdueError

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.transactions.producers import (
        PartitionKey,
        PartitionProducer,
        TransactionalProducers,
    )

_FENCED = {
    getattr(KafkaError, name) for name in ("_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH")
    if hasattr(KafkaError, name)
}
_MARGIN = 1.0  # seconds past librdkafka's own timeout before the call counts as hung


class Transaction:
    """One transaction of the partition ``key`` through its producer in ``producers``."""

    def __init__(self, producers: TransactionalProducers, key: PartitionKey, monitor: Monitor,
                 group_metadata: Callable[[], Any], source: Callable[[], Any]) -> None:
        self._producers = producers
        self._key = key
        self._monitor = monitor
        self._group_metadata = group_metadata
        self._source = source  # the consumer the report names
        self._producer: PartitionProducer | None = None
        self.fenced = False
        """Whether the broker fenced the producer: another owner initialised its id."""

    @property
    def producer(self) -> PartitionProducer:
        """The producer of the open transaction (``begin`` first)."""
        if self._producer is None:
            raise TransactionError("no transaction is open")
        return self._producer

    def begin(self) -> None:
        """Get (or build) the partition's producer and begin a transaction on it."""
        try:
            self._producer = self._producers.get(self._key)
        except OverdueError as error:
            self._broken(error)
        except KafkaException as error:
            self._failed("init_transactions", error)
        client = self.producer.client
        self._call("begin_transaction", lambda _timeout: client.begin_transaction())

    def commit(self, next_offset: int | None) -> None:
        """Send ``next_offset`` (when given) as the group's position, then commit; else abort."""
        client = self.producer.client
        try:
            if next_offset is not None:
                position = [TopicPartition(self._key[0], self._key[1], next_offset)]
                metadata = self._group_metadata()
                self._call("send_offsets_to_transaction", lambda timeout:
                           client.send_offsets_to_transaction(position, metadata, timeout))
            self._call("commit_transaction", client.commit_transaction)
        except TransactionError:
            self.abort()
            raise

    def abort(self) -> None:
        """Abort the transaction, if its producer still stands (a failure is reported)."""
        if self._producer is None:
            return  # broken and dropped: the next owner's init_transactions aborts it
        client = self._producer.client
        # reported when it broke the producer; the batch fails anyway
        with contextlib.suppress(TransactionError):
            self._call("abort_transaction", client.abort_transaction)

    def _call(self, name: str, call: Callable[[float], Any]) -> None:
        timeout = self._producers.call_timeout
        try:
            self.producer.calls.call(name, lambda: call(timeout), timeout + _MARGIN)
        except OverdueError as error:
            self._broken(error)
        except KafkaException as error:
            self._failed(name, error)

    def _failed(self, name: str, error: KafkaException) -> None:
        """Raise the ``TransactionError`` of a call's failure, breaking the producer if fatal."""
        found = error.args[0] if error.args else None
        problem = TransactionError(f"{name} failed for {self._key[0]}/{self._key[1]}: {found}")
        problem.__cause__ = error
        if isinstance(found, KafkaError) and found.code() in _FENCED:
            self.fenced = True
        if isinstance(found, KafkaError) and (found.fatal() or self.fenced):
            self._broken(problem)
        raise problem

    def _broken(self, error: TransactionError) -> None:
        """Report the producer broken, drop it, and raise ``error``."""
        broken, self._producer = self._producer, None
        if broken is not None:  # only this one: the key may hold a new owner's producer now
            self._producers.drop(self._key, broken)
        self._monitor.instrument("error.occurred", self._source(), type="transaction.error",
                                 error=error, topic=self._key[0], partition=self._key[1])
        raise error
