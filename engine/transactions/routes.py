"""Which routes an app with ``transactional_id`` can run (not yet: long jobs, virtual ones)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.config.kafka import isolation_problems
from engine.errors import RoutingError
from engine.routing.topic import Topic

_NOT_YET = "not supported with transactions yet (app transactional_id is set)"


def route_problems(topic: Topic) -> list[str]:
    """What keeps ``topic`` from running on an app with ``transactional_id``."""
    problems = isolation_problems(topic.kafka, "kafka")
    if topic.long_running_job:
        problems.append(f"long_running_job=True is {_NOT_YET}")
    if topic.virtual_partitions is not None:
        problems.append(f"virtual_partitions are {_NOT_YET}")
    return problems


def refuse_untransactable(topics: Iterable[Topic]) -> None:
    """Raise ``RoutingError`` naming the first topic a transactional app cannot run."""
    for topic in topics:
        problems = route_problems(topic)
        if problems:
            raise RoutingError(f"topic {topic.name!r}: " + "; ".join(problems))
