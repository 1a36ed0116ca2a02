"""What a harness sets up around its log: topics, deserializers, the history's events.

The topics it creates, how each topic's messages are read, and the engine events its
history follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.messages.deserializers import DEFAULT, Deserializers, deserializers_of

if TYPE_CHECKING:
    from engine.app import App
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.history import History
    from engine.testing.log import Log

Partitions = int | Mapping[str, int] | None
"""Topic sizes: an int for every routed topic, a mapping by name, or None (declared, else 1)."""

Receiver = Callable[..., None]


def create_topics(log: Log, app: App, groups: Sequence[SubscriptionGroup],
                  partitions: Partitions) -> None:
    """Create the routed, dead-letter, listed and declared topics the log lacks."""
    routed = [topic.name for group in groups for topic in group.topics]
    log.routed = tuple(dict.fromkeys(routed))
    sizes: Mapping[str, int] = partitions if isinstance(partitions, Mapping) else {}
    declared = {topic.name: topic.config.partitions or 1 for topic in app.declared_topics()}
    dead_letters = [topic.dead_letter_queue.topic for group in groups
                    for topic in group.topics if topic.dead_letter_queue is not None]
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


def deserializers_for(groups: Sequence[SubscriptionGroup], topic: str) -> Deserializers:
    """How ``topic``'s messages are read: its route's deserializers, else the defaults."""
    for group in groups:
        if topic in group.topic_names:
            route = group.topic(topic)
            return deserializers_of(route.deserializer, route.key_deserializer)
    return DEFAULT


def watch_history(app: App, history: History,
                  groups: Sequence[SubscriptionGroup]) -> list[tuple[str, Receiver]]:
    """Feed ``history`` dead-letter copies, seeks and pauses; the subscriptions made."""

    def dead_lettered(sender: Any, **event: Any) -> None:
        names = [g.consumer_group for g in groups if event["topic"] in g.topic_names]
        history.dead_lettered(sender, event["topic"], event["partition"], event["offset"],
                              names)

    def sought(sender: Any, **event: Any) -> None:
        history.sought(sender)

    subscriptions = [("dead_letter_queue.dispatched", dead_lettered),
                     ("consumer.consuming.seek", sought), ("consumer.consuming.pause", sought)]
    for name, receiver in subscriptions:
        app.monitor.subscribe(name, receiver)
    return subscriptions
