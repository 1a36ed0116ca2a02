"""All routes of an app, and the active subscription groups they resolve to."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from engine.config.settings import Settings
from engine.errors import RoutingError
from engine.routing.consumer_group import ConsumerGroup, SubscriptionGroupBuilder
from engine.routing.declarations import TopicDeclarations
from engine.routing.declared_topics import DeclaredTopic, declared_topics
from engine.routing.names import topic_name_problem
from engine.routing.selection import Selection
from engine.routing.subscription_group import SubscriptionGroup, group_topics
from engine.routing.topic import Topic
from engine.routing.topic_config import TopicConfig, config_problems


class Routes(TopicDeclarations):
    """Consumer groups in declaration order; top-level topics go to the default group."""

    def __init__(self, default_group: str) -> None:
        self.default_group = default_group
        self._groups: dict[str, ConsumerGroup] = {}
        self._standalone: dict[str, TopicConfig] = {}

    def consumer_group(self, name: str) -> ConsumerGroup:
        """The consumer group called ``name``, created on first use (reopened after)."""
        consumer_group = self._groups.get(name)
        if consumer_group is None:
            consumer_group = self._groups[name] = ConsumerGroup(name)
        return consumer_group

    def subscription_group(self, name: str) -> SubscriptionGroupBuilder:
        """An explicit subscription group of the default consumer group."""
        return self.consumer_group(self.default_group).subscription_group(name)

    @property
    def consumer_groups(self) -> tuple[ConsumerGroup, ...]:
        """Every declared consumer group."""
        return tuple(self._groups.values())

    def _declare(self, name: str, consumer_class: Any, options: dict[str, Any]) -> Topic:
        return self.consumer_group(self.default_group)._declare(name, consumer_class, options)

    def declare_topic(self, name: str, config: Mapping[str, Any] | None = None) -> TopicConfig:
        """Declare a topic the app does not consume (one it produces to, such as a DLQ)."""
        problems = [p for p in [topic_name_problem(name)] if p] + config_problems(config or {})
        if name in self._standalone:
            problems.append("declared twice with app.declare_topic; declare it once")
        if problems:
            raise RoutingError(f"topic {name!r}: " + "; ".join(problems))
        self._standalone[name] = TopicConfig.build(config or {})
        return self._standalone[name]

    def declared_topics(
        self, settings: Settings, selection: Selection | None = None
    ) -> tuple[DeclaredTopic, ...]:
        """What ``engine topics`` manages (see ``engine.routing.declared_topics``)."""
        return declared_topics(self.every_group(settings), self._standalone, selection)

    def subscription_groups(
        self, settings: Settings, selection: Selection | None = None
    ) -> tuple[SubscriptionGroup, ...]:
        """The subscription groups to run: active topics that pass ``selection``.

        Raises ``RoutingError`` when a filter names nothing, or when nothing is left to run.
        """
        everything = self.every_group(settings)
        selection = selection or Selection()
        selection.check(everything)
        chosen = [_narrowed(subscription_group, selection) for subscription_group in everything]
        groups = tuple(narrowed for narrowed in chosen if narrowed is not None)
        if not groups:
            raise RoutingError(
                "no routes to run: declare one with app.topic(name, ConsumerClass)"
                + (" (every route is inactive or filtered out)" if everything else "")
            )
        return groups

    def every_group(self, settings: Settings) -> list[SubscriptionGroup]:
        """Every group, inactive topics included, so names never depend on ``active``."""
        return [
            subscription_group
            for consumer_group in self._groups.values()
            for subscription_group in group_topics(
                consumer_group.name, consumer_group.topics, settings
            )
        ]


def _narrowed(
    subscription_group: SubscriptionGroup, selection: Selection
) -> SubscriptionGroup | None:
    topics = tuple(t for t in subscription_group.topics
                   if t.active and selection.keeps(subscription_group, t))
    return dataclasses.replace(subscription_group, topics=topics) if topics else None
