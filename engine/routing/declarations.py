"""The ``topic(...)`` declaration shared by the app, consumer groups and subscription groups."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from engine.consumer import Consumer
from engine.routing.dead_letter_queue import DeadLetterQueue
from engine.routing.topic import Topic
from engine.virtual.settings import VirtualPartitions


class TopicDeclarations:
    """Mixin: declares topic routes; subclasses decide where a declared topic goes."""

    def topic(
        self,
        name: str,
        consumer_class: type[Consumer],
        *,
        initial_offset: Literal["earliest", "latest"] = "earliest",
        max_messages: int | None = None,
        max_wait_time: float | None = None,
        kafka: Mapping[str, Any] | None = None,
        deserializer: Callable[..., Any] | None = None,
        key_deserializer: Callable[..., Any] | None = None,
        manual_offset_management: bool = False,
        dead_letter_queue: DeadLetterQueue | None = None,
        long_running_job: bool = False,
        active: bool = True,
        config: Mapping[str, Any] | None = None,
        virtual_partitions: VirtualPartitions | None = None,
    ) -> Topic:
        """Route ``name`` to ``consumer_class``; None settings inherit the app's.

        ``config`` declares the topic for ``engine topics`` / ``engine.admin``: ``partitions``,
        ``replication_factor`` and Kafka topic configs such as ``retention.ms``.
        ``virtual_partitions`` runs one partition's batch concurrently, split by key (API.md
        section 12).
        """
        options = {
            "initial_offset": initial_offset, "max_messages": max_messages,
            "max_wait_time": max_wait_time, "kafka": kafka, "deserializer": deserializer,
            "key_deserializer": key_deserializer,
            "manual_offset_management": manual_offset_management,
            "dead_letter_queue": dead_letter_queue, "long_running_job": long_running_job,
            "active": active, "config": config, "virtual_partitions": virtual_partitions,
        }
        return self._declare(name, consumer_class, options)

    def _declare(self, name: str, consumer_class: Any, options: dict[str, Any]) -> Topic:
        raise NotImplementedError
