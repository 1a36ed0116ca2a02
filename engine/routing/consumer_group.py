"""A consumer group (one Kafka ``group.id``) and its explicit subscription groups."""

from __future__ import annotations

from typing import Any

from engine.errors import RoutingError
from engine.routing.declarations import TopicDeclarations
from engine.routing.names import group_name_problem
from engine.routing.topic import Topic


class ConsumerGroup(TopicDeclarations):
    """Topics consumed under one Kafka consumer group, in declaration order."""

    def __init__(self, name: str) -> None:
        problem = group_name_problem(name)
        if problem:
            raise RoutingError(problem)
        self.name = name
        self.topics: list[Topic] = []

    def subscription_group(self, name: str) -> SubscriptionGroupBuilder:
        """Topics declared on the result get their own connection (listener thread)."""
        if not isinstance(name, str) or not name.strip():
            raise RoutingError(
                f"consumer group {self.name!r}: a subscription group name must be a non-empty"
                f" string (got {name!r})"
            )
        return SubscriptionGroupBuilder(self, name)

    def _declare(self, name: str, consumer_class: Any, options: dict[str, Any]) -> Topic:
        return self._add(name, consumer_class, None, options)

    def _add(
        self, name: str, consumer_class: Any, subscription_group: str | None,
        options: dict[str, Any],
    ) -> Topic:
        if any(topic.name == name for topic in self.topics):
            raise RoutingError(
                f"topic {name!r} is routed twice in consumer group {self.name!r};"
                " route it once, or use another consumer group to consume it again"
            )
        topic = Topic.build(
            name, consumer_class, consumer_group=self.name,
            subscription_group=subscription_group, **options,
        )
        self.topics.append(topic)
        return topic


class SubscriptionGroupBuilder(TopicDeclarations):
    """Declares topics into one explicit subscription group of a consumer group."""

    def __init__(self, consumer_group: ConsumerGroup, name: str) -> None:
        self.consumer_group = consumer_group
        self.name = name

    def _declare(self, name: str, consumer_class: Any, options: dict[str, Any]) -> Topic:
        return self.consumer_group._add(name, consumer_class, self.name, options)
