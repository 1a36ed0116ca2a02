"""The harness's topics: which exist, with how many partitions, read how, by whom; their I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.messages import Message
from engine.messages.deserializers import DEFAULT, Deserializers, deserializers_of
from engine.producer import encode
from engine.testing.errors import HarnessError
from engine.testing.memory_producer import encode_headers

if TYPE_CHECKING:
    from engine.app import App
    from engine.processing.partitions import PartitionKey
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.log import Log

TopicSizes = int | Mapping[str, int] | None
"""Topic sizes: an int for every routed topic, a mapping by name, or None (declared, else 1)."""


def create_topics(log: Log, app: App, groups: tuple[SubscriptionGroup, ...],
                  partitions: TopicSizes) -> None:
    """Create the routed, dead-letter, named and declared topics in ``log``.

    A topic named in a ``partitions`` mapping gets that size; with an int, every routed topic
    gets it; the rest get their declared ``config`` partitions, else 1.
    """
    routed = [topic.name for subscription_group in groups for topic in subscription_group.topics]
    log.routed = tuple(dict.fromkeys(routed))
    sizes: Mapping[str, int] = partitions if isinstance(partitions, Mapping) else {}
    declared = {topic.name: topic.config.partitions or 1 for topic in app.declared_topics()}
    dead_letters = [topic.dead_letter_queue.topic for subscription_group in groups
                    for topic in subscription_group.topics if topic.dead_letter_queue is not None]
    every_routed = partitions if isinstance(partitions, int) else None
    for name in [*log.routed, *dead_letters, *sizes, *declared]:
        if log.has_topic(name):
            continue
        if name in sizes:
            count = sizes[name]
        elif every_routed is not None and name in log.routed:
            count = every_routed
        else:
            count = declared.get(name, 1)
        log.create_topic(name, count)


class Topics:
    """The in-memory log's topics as a test writes and reads them (``Harness`` delegates here)."""

    def __init__(self, log: Log, groups: tuple[SubscriptionGroup, ...]) -> None:
        """``groups`` are the subscription groups the harness runs."""
        self._log = log
        self._groups = groups

    def produce(self, topic: str, value: Any, key: Any, headers: Any, partition: int | None,
                timestamp: datetime | None) -> Message:
        """Append a message; the stored one.

        ``value`` is stored as JSON (what the default deserializer reads), ``bytes`` and None
        as they are; ``key`` as UTF-8 text (``bytes`` as they are).
        """
        record = self._log.append(
            topic, _json(value), key=encode(key), headers=encode_headers(headers),
            partition=partition,
            timestamp_ms=None if timestamp is None else int(timestamp.timestamp() * 1000),
        )
        return Message.of(record, topic, record.partition(), deserializers_for(self._groups, topic))

    def partition_for(self, topic: str, key: Any) -> int | None:
        """The partition a message with ``key`` goes to (None: unkeyed, round-robin)."""
        return self._log.partition_for(topic, encode(key))

    def messages(self, name: str, committed_only: bool = True) -> list[Message]:
        """The messages ``name`` holds, in order, read as the group routing it reads them.

        ``committed_only``: as a ``read_committed`` reader (no aborted or open transaction's).
        """
        deserializers = deserializers_for(self._groups, name)
        return [Message.of(record, name, record.partition(), deserializers)
                for record in self._log.appended(name, committed_only)]

    def committed(self, topic: str, partition: int, group: str | None) -> int | None:
        """The consumer group's committed offset of a partition; None when none was."""
        key = self.key(topic, partition)  # an unknown partition is the first error
        return self._log.committed(consumer_group_of(self._groups, topic, group), key)

    def index(self, topic: str, group: str | None) -> int:
        """Which subscription group consumes ``topic`` (in consumer group ``group``, if given)."""
        return subscription_index(self._groups, topic, group)

    def key(self, topic: str, partition: int) -> PartitionKey:
        """``(topic, partition)``; a ``HarnessError`` when the log has no such partition."""
        self._log.end(topic, partition)
        return (topic, partition)


def _json(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return json.dumps(value).encode()


def deserializers_for(groups: tuple[SubscriptionGroup, ...], topic: str) -> Deserializers:
    """How the first group routing ``topic`` reads it (the defaults for other topics)."""
    for subscription_group in groups:
        if topic in subscription_group.topic_names:
            route = subscription_group.topic(topic)
            return deserializers_of(route.deserializer, route.key_deserializer)
    return DEFAULT


def subscription_index(groups: tuple[SubscriptionGroup, ...], topic: str,
                       consumer_group: str | None) -> int:
    """Which of ``groups`` consumes ``topic`` (in ``consumer_group``, if given)."""
    found = [index for index, each in enumerate(groups) if topic in each.topic_names
             and (consumer_group is None or each.consumer_group == consumer_group)]
    if not found:
        routed = ", ".join(dict.fromkeys(t for each in groups for t in each.topic_names))
        where = f" in consumer group {consumer_group!r}" if consumer_group else ""
        raise HarnessError(f"topic {topic!r} is not consumed{where} (routed: {routed or 'none'})")
    if len(found) > 1:
        names = ", ".join(sorted(groups[index].consumer_group for index in found))
        raise HarnessError(f"topic {topic!r} is consumed by several consumer groups"
                           f" ({names}); pass group=")
    return found[0]


def consumer_group_of(groups: tuple[SubscriptionGroup, ...], topic: str,
                      consumer_group: str | None) -> str:
    """``consumer_group``, else the one consumer group consuming ``topic``."""
    if consumer_group is not None:
        return consumer_group
    names = sorted({each.consumer_group for each in groups if topic in each.topic_names})
    if len(names) == 1:
        return names[0]
    if not names:
        raise HarnessError(f"topic {topic!r} is not consumed by any consumer group;"
                           " pass group=")
    raise HarnessError(f"topic {topic!r} is consumed by several consumer groups"
                       f" ({', '.join(names)}); pass group=")
