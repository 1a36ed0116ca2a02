"""The transactional producers of one listener's partitions: one per partition, built lazily.

A partition's producer is built (and ``init_transactions`` called, which fences the
partition's previous owner) on its first transaction, dropped when broken, and closed when
the partition is revoked or lost or the listener stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from engine.producer import ProducerClientFactory, kafka_producer
from engine.transactions.bounded import bounded
from engine.transactions.ids import producer_config, transactional_id_of

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.producer import Producer

CALL_TIMEOUT = 30.0
"""Seconds any one transactional call may take before the producer counts as broken."""

CLOSE_TIMEOUT = 5.0
"""Seconds a closing producer may flush what it still holds."""

_log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]


class PartitionProducer:
    """A partition's transactional client and the ``Producer`` that sends through it."""

    __slots__ = ("client", "sender")

    def __init__(self, client: Any, sender: Producer) -> None:
        self.client = client
        self.sender = sender


class TransactionalProducers:
    """One transactional producer per partition of a consumer group (thread-safe)."""

    def __init__(self, settings: Settings, consumer_group: str, app_producer: Producer, *,
                 client_factory: ProducerClientFactory = kafka_producer,
                 call_timeout: float = CALL_TIMEOUT) -> None:
        assert settings.transactional_id is not None
        self._settings = settings
        self._transactional_id = settings.transactional_id
        self._group = consumer_group
        self._app_producer = app_producer
        self._factory = client_factory
        self.call_timeout = call_timeout
        self._producers: dict[PartitionKey, PartitionProducer] = {}
        self._lock = threading.Lock()

    def get(self, key: PartitionKey) -> PartitionProducer:
        """The partition's producer, built and its transactions initialised on first use."""
        with self._lock:
            found = self._producers.get(key)
        if found is not None:
            return found
        built = self._build(key)
        with self._lock:
            self._producers[key] = built
        return built

    def _build(self, key: PartitionKey) -> PartitionProducer:
        txn_id = transactional_id_of(self._transactional_id, self._group, *key)
        config = producer_config(self._settings.kafka, self._settings.client_id, txn_id)
        client = self._factory(config)
        timeout = self.call_timeout
        bounded("init_transactions", lambda: client.init_transactions(timeout), timeout)
        sender = self._app_producer.rebuilt(client_factory=lambda _config: client)
        return PartitionProducer(client, sender)

    def drop(self, key: PartitionKey) -> None:
        """Forget a broken producer (never flushed: it may hang); the next use builds anew."""
        with self._lock:
            self._producers.pop(key, None)

    def close(self, keys: Iterable[PartitionKey]) -> None:
        """Close the producers of partitions no longer served (each flush bounded)."""
        with self._lock:
            gone = [self._producers.pop(key) for key in keys if key in self._producers]
        for producer in gone:
            _close(producer)

    def close_all(self) -> None:
        """Close every producer (the listener stops)."""
        with self._lock:
            keys = list(self._producers)
        self.close(keys)

    def __len__(self) -> int:
        """How many producers are open."""
        return len(self._producers)


def _close(producer: PartitionProducer) -> None:
    """Flush what the producer still holds, for ``CLOSE_TIMEOUT`` at most."""
    client = producer.client
    try:
        bounded("flush", lambda: client.flush(CLOSE_TIMEOUT), CLOSE_TIMEOUT + 1.0)
    except Exception:  # noqa: BLE001 - a broken producer is left for the garbage collector
        _log.warning("a transactional producer did not close cleanly", exc_info=True)
