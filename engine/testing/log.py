"""The in-memory Kafka log: topics, partitions, records, and each group's committed offsets."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import KafkaError

from engine.processing.partitions import PartitionKey
from engine.testing.errors import HarnessError
from engine.testing.partitioner import partition_for_key

Headers = list[tuple[str, bytes | None]]
_CREATE_TIME = 1  # confluent_kafka.TIMESTAMP_CREATE_TIME


class _Located:
    """Where a polled item sits: what the engine asks every item of a poll."""

    __slots__ = ("_offset", "_partition", "_topic")

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset

    def topic(self) -> str:
        """The topic."""
        return self._topic

    def partition(self) -> int:
        """The partition."""
        return self._partition

    def offset(self) -> int:
        """The offset."""
        return self._offset


class TransactionRecords:
    """The records one transaction appended: ``state`` is "open", "committed" or "aborted".

    ``partitions`` are those it appended to (each gets its marker when it ends).
    """

    __slots__ = ("partitions", "state")

    def __init__(self) -> None:
        self.state = "open"
        self.partitions: set[PartitionKey] = set()


class Record(_Located):
    """One stored message; it reads like a ``confluent_kafka.Message`` to the engine.

    ``transaction`` is the transaction that appended it (None: an ordinary producer's).
    ``control``: a transaction marker (``Marker``), never delivered.
    """

    control = False

    __slots__ = ("_headers", "_key", "_timestamp", "_value", "transaction")

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None,
                 value: bytes | None, headers: Headers | None, timestamp_ms: int,
                 transaction: TransactionRecords | None = None) -> None:
        super().__init__(topic, partition, offset)
        self._key = key
        self._value = value
        self._headers = headers
        self._timestamp = timestamp_ms
        self.transaction = transaction

    def readable(self, committed_only: bool) -> bool:
        """Whether a reader sees it: ``read_committed`` ones only once its transaction commits."""
        return (not committed_only or self.transaction is None
                or self.transaction.state == "committed")

    @property
    def aborted(self) -> bool:
        """Whether its transaction aborted (``read_committed`` readers skip it)."""
        return self.transaction is not None and self.transaction.state == "aborted"

    def key(self) -> bytes | None:
        """The key bytes."""
        return self._key

    def value(self) -> bytes | None:
        """The payload bytes."""
        return self._value

    def headers(self) -> Headers | None:
        """The headers as sent (None when there were none, as confluent-kafka gives them)."""
        return list(self._headers) if self._headers else None

    def timestamp(self) -> tuple[int, int]:
        """``(TIMESTAMP_CREATE_TIME, milliseconds)``."""
        return _CREATE_TIME, self._timestamp

    def error(self) -> None:
        """A stored record is never an error event."""
        return None

    def __repr__(self) -> str:
        """Where the record sits."""
        return f"<Record {self._topic}/{self._partition}@{self._offset}>"


class Marker(Record):
    """A transaction's commit or abort marker.

    It takes an offset, as Kafka's control records do, and no reader ever sees it: consumers
    fetch past it, and a partition's end counts it.
    """

    __slots__ = ()
    control = True

    def readable(self, committed_only: bool) -> bool:
        """Never: a control record is not a message."""
        return False

    def __repr__(self) -> str:
        """Where the marker sits."""
        return f"<Marker {self._topic}/{self._partition}@{self._offset}>"


class EndOfPartition(_Located):
    """The partition-EOF event librdkafka hands out with ``enable.partition.eof``."""

    __slots__ = ()

    def error(self) -> KafkaError:
        """``_PARTITION_EOF``."""
        return KafkaError(KafkaError._PARTITION_EOF)


class Log:
    """Every topic's partitions (lists of records, offsets from 0) and committed offsets.

    ``on_commit`` hears every commit (the history checks it); ``known`` names what may be
    produced to, for error messages.
    """

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self._wall = wall_clock
        self._topics: dict[str, list[list[Record]]] = {}
        self._appended: dict[str, list[Record]] = {}
        self._round_robin: dict[str, Iterator[int]] = {}
        self._committed: dict[str, dict[PartitionKey, int]] = {}
        self._stable: dict[PartitionKey, int] = {}  # where stable_end's scan resumes
        self.routed: tuple[str, ...] = ()
        self.on_commit: Callable[[str, PartitionKey, int], None] = lambda *_: None

    # -- topics --------------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create a topic (a no-op when it exists with as many partitions)."""
        if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
            raise HarnessError(f"topic {name!r}: partitions must be an integer >= 1"
                               f" (got {partitions!r})")
        existing = self._topics.get(name)
        if existing is not None:
            if len(existing) != partitions:
                raise HarnessError(f"topic {name!r} already exists with {len(existing)}"
                                   f" partition(s), not {partitions}")
            return
        self._topics[name] = [[] for _ in range(partitions)]
        self._appended[name] = []
        self._round_robin[name] = itertools.cycle(range(partitions))

    def has_topic(self, name: str) -> bool:
        """Whether the topic exists."""
        return name in self._topics

    def partition_count(self, topic: str) -> int:
        """How many partitions a topic has."""
        return len(self._partitions(topic))

    def records(self, topic: str, partition: int) -> list[Record]:
        """A partition's records (the live list: read, do not change)."""
        return self._partitions(topic)[self._checked(topic, partition)]

    def end(self, topic: str, partition: int) -> int:
        """The high watermark: the offset the next record gets."""
        return len(self.records(topic, partition))

    def appended(self, topic: str, committed_only: bool = False) -> list[Record]:
        """A topic's records in the order they were appended (``read_committed``'s view)."""
        self._partitions(topic)
        return [record for record in self._appended[topic] if record.readable(committed_only)]

    def stable_end(self, topic: str, partition: int) -> int:
        """The last stable offset: the first record of a still open transaction, else the end.

        ``read_committed`` readers never fetch past it.
        """
        records = self.records(topic, partition)
        # it only grows (a decided transaction stays decided; new ones start at the end)
        stable = self._stable.get((topic, partition), 0)
        while stable < len(records):
            transaction = records[stable].transaction
            if transaction is not None and transaction.state == "open":
                break
            stable += 1
        self._stable[(topic, partition)] = stable
        return stable

    def never_delivered(self, topic: str, partition: int, offset: int) -> bool:
        """Whether ``read_committed`` readers never get the record at ``offset``.

        An aborted transaction's record, or a transaction marker.
        """
        records = self.records(topic, partition)
        if not 0 <= offset < len(records):
            return False
        record = records[offset]
        return record.control or record.aborted

    # -- producing -----------------------------------------------------------------------------

    def partition_for(self, topic: str, key: bytes | None) -> int | None:
        """The partition a keyed message goes to; None for an unkeyed one."""
        count = self.partition_count(topic)
        return partition_for_key(key, count) if key else None

    def append(self, topic: str, value: bytes | None, *, key: bytes | None = None,
               headers: Headers | None = None, partition: int | None = None,
               timestamp_ms: int | None = None,
               transaction: TransactionRecords | None = None) -> Record:
        """Store one record where librdkafka's producer would put it; the stored record."""
        partitions = self._partitions(topic)
        if partition is None:
            partition = self.partition_for(topic, key)
        if partition is None:
            partition = next(self._round_robin[topic])
        log = partitions[self._checked(topic, partition)]
        if timestamp_ms is None:
            timestamp_ms = int(self._wall() * 1000)
        record = Record(topic, partition, len(log), key, value, headers or None, timestamp_ms,
                        transaction)
        log.append(record)
        self._appended[topic].append(record)
        if transaction is not None:
            transaction.partitions.add((topic, partition))
        return record

    def end_transaction(self, transaction: TransactionRecords, outcome: str) -> None:
        """Decide a transaction ("committed" or "aborted") and write its markers.

        Its records become visible to ``read_committed`` readers (or never do), and each
        partition it appended to gets a marker at its end, as Kafka writes one.
        """
        transaction.state = outcome
        for topic, partition in sorted(transaction.partitions):
            log = self._partitions(topic)[partition]
            log.append(Marker(topic, partition, len(log), None, None, None,
                              int(self._wall() * 1000), transaction))

    # -- committed offsets ---------------------------------------------------------------------

    def committed(self, consumer_group: str, key: PartitionKey) -> int | None:
        """The group's committed offset of a partition (the next to read), or None."""
        return self._committed.get(consumer_group, {}).get(key)

    def commit(self, consumer_group: str, key: PartitionKey, offset: int) -> None:
        """Record a commit of the group."""
        self._committed.setdefault(consumer_group, {})[key] = offset
        self.on_commit(consumer_group, key, offset)

    # -- checks --------------------------------------------------------------------------------

    def _partitions(self, topic: str) -> list[list[Record]]:
        partitions = self._topics.get(topic)
        if partitions is None:
            routed = ", ".join(self.routed) or "none"
            raise HarnessError(
                f"topic {topic!r} is neither routed nor created (routed topics: {routed});"
                f" create it with kafka.create_topic({topic!r}, partitions=N)"
            )
        return partitions

    def _checked(self, topic: str, partition: Any) -> int:
        count = len(self._topics[topic])
        if not isinstance(partition, int) or isinstance(partition, bool) \
                or not 0 <= partition < count:
            raise HarnessError(f"partition {partition!r} is out of range: topic {topic!r} has"
                               f" {count} partition(s) (0..{count - 1})")
        return partition
