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
        if not self._single_topic:
            pairs = zip(raws, partitions, strict=True)
            return _grouped([(raw.topic(), partition) for raw, partition in pairs], raws)
        topic = self._topic  # one topic: a partition's number names it, no tuple per message
        if partitions.count(partitions[0]) == len(partitions):
            return {(topic, partitions[0]): raws}
        return {(topic, number): batch for number, batch in _grouped(partitions, raws).items()}

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


def _grouped(keys: list[Any], raws: list[Any]) -> dict[Any, list[Any]]:
    """``raws`` by their key: each group in order, the groups in order of first appearance."""
    groups: dict[Any, list[Any]] = {}
    for key, raw in zip(keys, raws, strict=True):
        group = groups.get(key)
        if group is None:
            groups[key] = [raw]
        else:
            group.append(raw)
    return groups


def _any_error(raws: list[Any]) -> bool:
    """Whether any of ``raws`` is an error event (a partition's end included)."""
    try:
        return any(map(_ERROR, raws))  # librdkafka's errors are KafkaError objects: all true
    except TypeError:  # not librdkafka's messages
        return not all([raw.error() is None for raw in raws])
