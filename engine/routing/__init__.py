"""Routing: consumer groups -> subscription groups -> topics, and which of them run."""

from engine.routing.consumer_group import ConsumerGroup, SubscriptionGroupBuilder
from engine.routing.dead_letter_queue import DeadLetterQueue
from engine.routing.routes import Routes
from engine.routing.selection import Selection
from engine.routing.subscription_group import SubscriptionGroup
from engine.routing.topic import Topic

__all__ = [
    "ConsumerGroup",
    "DeadLetterQueue",
    "Routes",
    "Selection",
    "SubscriptionGroup",
    "SubscriptionGroupBuilder",
    "Topic",
]
