"""The ``transactional.id`` of a partition's producer and the producer's settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config.kafka import common_config

TRANSACTION_TIMEOUT_MS = 60_000
"""``transaction.timeout.ms`` unless the user sets it: how long a killed member's open
transaction can block ``read_committed`` readers when no new owner fences it sooner."""

RETRY_BACKOFF_MS = 10
"""``retry.backoff.ms`` unless the user sets it. A transaction's first request is refused
(CONCURRENT_TRANSACTIONS) while the coordinator still writes the last one's markers, and
librdkafka's default 100 ms before the retry stalled about one batch in twenty by that much
(measured); the backoff still grows to ``retry.backoff.max.ms`` on repeated failures."""


def transactional_id_of(transactional_id: str, consumer_group: str, topic: str,
                        partition: int) -> str:
    """The partition's producer id, stable across processes.

    So the partition's next owner fences the last one's producer (and aborts its open
    transaction) at once.
    """
    return f"{transactional_id}.{consumer_group}.{topic}.{partition}"


def producer_config(kafka: Mapping[str, Any], client_id: str, transactional_id: str
                    ) -> dict[str, Any]:
    """A transactional producer's settings: the app's (no consumer-only keys) plus the id."""
    config = common_config(kafka)
    config.setdefault("client.id", client_id)
    config.setdefault("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS)
    config.setdefault("retry.backoff.ms", RETRY_BACKOFF_MS)
    config["transactional.id"] = transactional_id
    return config
