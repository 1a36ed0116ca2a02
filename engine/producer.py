"""One producer per app, shared by every consumer (``produce``) and by dead-letter dispatch."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.config.kafka import common_config
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Message

class ProduceError(EngineError):
    """The broker did not acknowledge a synchronous send."""


class Producer:
    """A lazily created ``confluent_kafka.Producer``; async sends report failures as events."""

    def __init__(self, kafka: Mapping[str, Any], client_id: str, monitor: Monitor) -> None:
        self._config = common_config(kafka)
        self._config.setdefault("client.id", client_id)
        self._monitor = monitor
        self._producer: Any = None
        self._lock = threading.Lock()

    def produce(
        self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
        partition: int | None = None, sync: bool = False, timeout: float = 30.0,
    ) -> None:
        """Send one message; with ``sync`` wait for the acknowledgement or raise."""
        done = threading.Event() if sync else None
        outcome: list[Any] = []

        def delivered(error: Any, message: Any) -> None:
            if done is not None:
                outcome.append(error)
                done.set()
            elif error is not None:
                self._monitor.instrument("error.occurred", self, type="producer.delivery.error",
                                         error=error, topic=topic)

        options: dict[str, Any] = {
            "key": _encode(key), "headers": headers, "on_delivery": delivered,
        }
        if partition is not None:
            options["partition"] = partition
        producer = self._client()
        producer.produce(topic, _encode(value), **options)
        producer.poll(0)
        if done is not None:
            self._await(producer, done, timeout, topic)
            if outcome and outcome[0] is not None:
                raise ProduceError(f"sending to {topic!r} failed: {outcome[0]}")

    def dispatch(self, message: Message, topic: str, consumer_group: str) -> None:
        """Copy a failed message to a dead-letter topic: key and headers kept, source added."""
        headers = [*message.raw_headers, *[
            ("source_topic", message.topic.encode()),
            ("source_partition", str(message.partition).encode()),
            ("source_offset", str(message.offset).encode()),
            ("source_consumer_group", consumer_group.encode()),
        ]]
        self.produce(topic, message.raw_payload, key=message.raw_key, headers=headers, sync=True)

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is in flight; the number of messages still undelivered."""
        with self._lock:
            producer, self._producer = self._producer, None
        return int(producer.flush(timeout)) if producer is not None else 0

    def _client(self) -> Any:
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer as KafkaProducer

                self._producer = KafkaProducer(self._config)
            return self._producer

    @staticmethod
    def _await(producer: Any, done: threading.Event, timeout: float, topic: str) -> None:
        remaining = timeout
        while not done.is_set() and remaining > 0:
            producer.poll(0.05)
            remaining -= 0.05
        if not done.is_set():
            raise ProduceError(f"sending to {topic!r} was not acknowledged within {timeout}s")


def _encode(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()
