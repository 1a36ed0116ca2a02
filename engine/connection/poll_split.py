"""Splitting one poll: its messages by partition, and the partitions whose end it reached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as KafkaMessage

from engine.processing.partitions import PartitionKey

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.routing.subscription_group import SubscriptionGroup

# librdkafka's own methods, mapped over a poll at C level (no Python step per message)
_ERROR, _PARTITION = KafkaMessage.error, KafkaMessage.partition


class PollSplitter:
    """Groups a poll's messages by partition (each in order) and takes out error events.

    librdkafka mostly hands out a whole poll from one partition: two C-level maps and counts
    recognise that case without a Python step per message (other message types, such as the
    testing kit's, take one Python step each).
    """

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor,
                 sender: object) -> None:
        self._group_id = subscription_group.id
        self._single_topic = len(subscription_group.topics) == 1
        self._topic = subscription_group.topics[0].name
        self._monitor = monitor
        self._sender = sender

    def split(self, raws: list[Any]) -> tuple[dict[PartitionKey, list[Any]], list[PartitionKey]]:
        """The messages by partition, and the partitions that reached their end (EOF)."""
        ended: list[PartitionKey] = []
        if _any_error(raws):
            clean = [raw.error() is None for raw in raws]  # KafkaError refuses == None
            raws, ended = self._take_errors(raws, clean)
            if not raws:
                return {}, ended
        return self._by_partition(raws), ended

    def _by_partition(self, raws: list[Any]) -> dict[PartitionKey, list[Any]]:
        try:
            partitions: list[Any] = list(map(_PARTITION, raws))
        except TypeError:  # not librdkafka's messages
            partitions = [raw.partition() for raw in raws]
        if self._single_topic and partitions.count(partitions[0]) == len(partitions):
            return {(self._topic, partitions[0]): raws}
        batches: dict[PartitionKey, list[Any]] = {}
        for raw, partition in zip(raws, partitions, strict=True):
            key = (raw.topic(), partition)
            batch = batches.get(key)
            if batch is None:
                batches[key] = [raw]
            else:
                batch.append(raw)
        return batches

    def _take_errors(
        self, raws: list[Any], clean: list[bool]
    ) -> tuple[list[Any], list[PartitionKey]]:
        """Report error events; the messages left, and the partitions whose end was reached."""
        ended = [(raw.topic(), raw.partition()) for raw, ok in zip(raws, clean, strict=True)
                 if not ok and self._is_end(raw)]
        return [raw for raw, ok in zip(raws, clean, strict=True) if ok], ended

    def _is_end(self, raw: Any) -> bool:
        """True for a partition-EOF event; any other error is reported (and raised if fatal)."""
        error = raw.error()
        if error.code() == KafkaError._PARTITION_EOF:
            return True
        self._monitor.instrument("error.occurred", self._sender,
                                 type="connection.client.poll.error",
                                 error=KafkaException(error), subscription_group=self._group_id,
                                 topic=raw.topic(), partition=raw.partition())
        if error.fatal():
            raise KafkaException(error)
        return False


def _any_error(raws: list[Any]) -> bool:
    """Whether any of ``raws`` is an error event (a partition's end included)."""
    try:
        return any(map(_ERROR, raws))  # librdkafka's errors are KafkaError objects: all true
    except TypeError:  # not librdkafka's messages
        return not all([raw.error() is None for raw in raws])
