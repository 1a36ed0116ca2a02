"""The topics an app declares for the cluster.

They are the routes with ``config=``, their dead-letter topics, and topics declared without a
consumer (``app.declare_topic``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from engine.errors import RoutingError
from engine.routing.selection import Selection
from engine.routing.subscription_group import SubscriptionGroup
from engine.routing.topic_config import TopicConfig


@dataclass(frozen=True)
class DeclaredTopic:
    """One topic as the app wants it, and where that was said (for messages)."""

    name: str
    config: TopicConfig
    origin: str


def declared_topics(
    groups: Sequence[SubscriptionGroup], standalone: Mapping[str, TopicConfig],
    selection: Selection | None = None,
) -> tuple[DeclaredTopic, ...]:
    """Every declared topic that passes ``selection``, in declaration order.

    A dead-letter topic of a declared route that is not declared itself inherits the largest
    partition count and replication factor of its sources, and follows them through filters.
    Raises ``RoutingError`` for one topic declared twice with different configs, or for a
    filter that names nothing.
    """
    selection = selection or Selection()
    dead_letter_names = {t.dead_letter_queue.topic
                         for subscription_group in groups for t in subscription_group.topics
                         if t.config is not None and t.dead_letter_queue is not None}
    selection.check(groups, topics=[*standalone, *dead_letter_names])
    explicit = _explicit(groups, standalone)
    chosen: dict[str, DeclaredTopic] = {}
    for subscription_group in groups:
        for topic in subscription_group.topics:
            if topic.config is None:
                continue
            if selection.keeps(subscription_group, topic):
                chosen.setdefault(topic.name, explicit[topic.name])
            dlq = topic.dead_letter_queue
            if dlq is not None and selection.keeps_names(
                    (subscription_group.consumer_group,),
                    (subscription_group.name, subscription_group.id), (dlq.topic, topic.name)):
                chosen[dlq.topic] = explicit.get(dlq.topic) or _inherited(
                    chosen.get(dlq.topic), dlq.topic, topic.name, topic.config)
    for name in standalone:
        if selection.keeps_names((), (), (name,)):
            chosen.setdefault(name, explicit[name])
    return tuple(chosen.values())


def _explicit(
    groups: Iterable[SubscriptionGroup], standalone: Mapping[str, TopicConfig]
) -> dict[str, DeclaredTopic]:
    """Each explicitly declared topic once; a second, different declaration is an error."""
    found: dict[str, DeclaredTopic] = {}
    pairs = [(t.name, t.config, f"routed in consumer group {subscription_group.consumer_group!r}")
             for subscription_group in groups for t in subscription_group.topics
             if t.config is not None]
    pairs += [(name, config, "app.declare_topic") for name, config in standalone.items()]
    for name, config, origin in pairs:
        earlier = found.get(name)
        if earlier is None:
            found[name] = DeclaredTopic(name, config, origin)
        elif earlier.config != config:
            raise RoutingError(
                f"topic {name!r} is declared twice with different config ({earlier.origin}:"
                f" {earlier.config.describe()}; {origin}: {config.describe()}); declare it once"
            )
    return found


def _inherited(
    earlier: DeclaredTopic | None, name: str, source: str, config: TopicConfig
) -> DeclaredTopic:
    partitions, replicas = config.partitions, config.replication_factor
    if earlier is not None:
        partitions = _largest(partitions, earlier.config.partitions)
        replicas = _largest(replicas, earlier.config.replication_factor)
    return DeclaredTopic(name, TopicConfig(partitions, replicas),
                         f"dead-letter topic of {source!r}")


def _largest(one: int | None, other: int | None) -> int | None:
    values = [value for value in (one, other) if value is not None]
    return max(values) if values else None
