"""Subscription groups: topics of one consumer group that can share one connection."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.config.kafka import consumer_config
from engine.config.settings import Settings
from engine.routing.topic import Topic
from engine.transactions.routes import refuse_untransactable


@dataclass(frozen=True)
class SubscriptionGroup:
    """Topics served by one connection and one listener thread, with their shared settings."""

    id: str
    name: str
    consumer_group: str
    topics: tuple[Topic, ...]
    max_messages: int
    max_wait_time: float
    initial_offset: str
    kafka: Mapping[str, Any]

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The names to subscribe to."""
        return tuple(topic.name for topic in self.topics)

    def topic(self, name: str) -> Topic:
        """The route of one of this group's topics."""
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(f"topic {name!r} is not in subscription group {self.id!r}")

    def connection(self, index: int, count: int) -> SubscriptionGroup:
        """The group as its ``index``-th (from 1) of ``count`` connections; itself when alone.

        Each connection is a member of the consumer group of its own, so its id says which
        one (``#index``), and so does a static membership's ``group.instance.id`` (two members
        with one instance id would fence each other), as ``-index``: the broker takes only
        letters, digits, ``.``, ``_`` and ``-`` there.
        """
        if count == 1:
            return self
        kafka = dict(self.kafka)
        if "group.instance.id" in kafka:
            kafka["group.instance.id"] = f"{kafka['group.instance.id']}-{index}"
        return dataclasses.replace(self, id=f"{self.id}#{index}", kafka=kafka)


def group_topics(
    consumer_group: str, topics: Iterable[Topic], settings: Settings
) -> tuple[SubscriptionGroup, ...]:
    """Group topics by their connection settings; same settings, same subscription group.

    Deterministic: groups are ordered by their first topic, and a group's name is its explicit
    name (or "default"), suffixed with a settings checksum only when that name is already taken
    by an earlier group with other settings.
    """
    buckets: dict[tuple[str, str], list[Topic]] = {}
    for topic in topics:
        buckets.setdefault((_base_name(topic), _checksum(topic, settings)), []).append(topic)
    taken: set[str] = set()
    groups = []
    for (base, checksum), members in buckets.items():
        name = base if base not in taken else f"{base}-{checksum[:8]}"
        taken.add(base)
        groups.append(_build(consumer_group, name, members, settings))
    return tuple(groups)


def connection_settings(topic: Topic, settings: Settings) -> dict[str, Any]:
    """The settings that decide which connection a topic can share (app values resolved)."""
    return {
        "initial_offset": topic.initial_offset,
        "max_messages": topic.max_messages or settings.max_messages,
        "max_wait_time": float(topic.max_wait_time or settings.max_wait_time),
        "kafka": dict(topic.kafka),
    }


def _base_name(topic: Topic) -> str:
    return topic.subscription_group or "default"


def _checksum(topic: Topic, settings: Settings) -> str:
    canonical = json.dumps(connection_settings(topic, settings), sort_keys=True, default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _build(
    consumer_group: str, name: str, topics: list[Topic], settings: Settings
) -> SubscriptionGroup:
    shared = connection_settings(topics[0], settings)
    transactional = settings.transactional_id is not None
    if transactional:
        refuse_untransactable(topics)
    kafka = consumer_config(
        settings.kafka, shared["kafka"], group_id=consumer_group,
        client_id=settings.client_id, initial_offset=shared["initial_offset"],
        transactional=transactional,
    )
    return SubscriptionGroup(
        id=f"{consumer_group}/{name}", name=name, consumer_group=consumer_group,
        topics=tuple(topics), max_messages=shared["max_messages"],
        max_wait_time=shared["max_wait_time"], initial_offset=shared["initial_offset"],
        kafka=kafka,
    )
