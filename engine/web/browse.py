"""Looking into topics for the dashboard: names, watermarks and messages by offset or time.

Blocking calls on a plain client without a consumer group (assign, no commit), run by the
pages on worker threads. A payload is shown as text: decoded as UTF-8 (bad bytes replaced) and
cut at ``PAYLOAD_LIMIT`` characters; the templates escape it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from engine.config.kafka import common_config, logged

PAYLOAD_LIMIT = 2000
"""Characters of a key, value or header shown."""

PAGE = 20
"""Messages shown at once."""


def text(data: bytes | str | None) -> str | None:
    """Bytes as text a page can show (None stays None)."""
    if data is None:
        return None
    shown = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return shown if len(shown) <= PAYLOAD_LIMIT else shown[:PAYLOAD_LIMIT] + "..."


class Browser:
    """Reads the cluster of the Kafka settings ``kafka`` (request timeout ``timeout`` s)."""

    def __init__(self, kafka: Mapping[str, Any], timeout: float = 10.0) -> None:
        self._config = common_config(kafka)
        self._timeout = timeout

    def topics(self) -> list[dict[str, Any]]:
        """Every topic (internal ones left out) with its partition count, by name."""
        from confluent_kafka.admin import AdminClient

        metadata = AdminClient(logged(self._config)).list_topics(timeout=self._timeout)
        return sorted(({"name": name, "partitions": len(topic.partitions)}
                       for name, topic in metadata.topics.items() if not name.startswith("__")),
                      key=lambda row: str(row["name"]))

    def partitions(self, topic: str) -> list[dict[str, Any]]:
        """Each partition of ``topic`` with its low and high watermarks ([] if no such topic)."""
        reader = self._reader()
        try:
            found = reader.list_topics(topic, timeout=self._timeout).topics.get(topic)
            if found is None or found.error is not None:
                return []
            rows = []
            for number in sorted(found.partitions):
                low, high = reader.get_watermark_offsets(self._partition(topic, number),
                                                         timeout=self._timeout)
                rows.append({"partition": number, "low": low, "high": high,
                             "messages": high - low})
            return rows
        finally:
            reader.close()

    def messages(self, topic: str, partition: int, offset: int | None = None,
                 at: datetime | None = None, limit: int = PAGE) -> list[dict[str, Any]]:
        """Up to ``limit`` messages from ``offset`` (or from the time ``at``; default: the last).

        Returned oldest first, each with offset, timestamp, key, value and headers as text.
        """
        reader = self._reader()
        try:
            low, high = reader.get_watermark_offsets(self._partition(topic, partition),
                                                     timeout=self._timeout)
            start = self._start(reader, topic, partition, offset, at, low, high, limit)
            if start >= high:
                return []
            reader.assign([self._partition(topic, partition, start)])
            wanted, found = min(limit, high - start), list[dict[str, Any]]()
            while len(found) < wanted:
                batch = reader.consume(wanted - len(found), self._timeout)
                if not batch:
                    break
                found += [shown(message) for message in batch if message.error() is None]
            return found
        finally:
            reader.close()

    def message(self, topic: str, partition: int, offset: int) -> Any:
        """The raw message at one offset (``confluent_kafka.Message``), or None."""
        reader = self._reader()
        try:
            reader.assign([self._partition(topic, partition, offset)])
            for message in reader.consume(1, self._timeout):
                if message.error() is None and message.offset() == offset:
                    return message
            return None
        finally:
            reader.close()

    def _start(self, reader: Any, topic: str, partition: int, offset: int | None,
               at: datetime | None, low: int, high: int, limit: int) -> int:
        if at is not None:
            millis = int(at.timestamp() * 1000)
            (found,) = reader.offsets_for_times([self._partition(topic, partition, millis)],
                                                timeout=self._timeout)
            return high if found.offset < 0 else max(low, found.offset)
        if offset is None:
            return max(low, high - limit)
        return max(low, offset)

    def _reader(self) -> Any:
        from confluent_kafka import Consumer as KafkaConsumer

        return KafkaConsumer(logged({**self._config, "group.id": "engine-web-browse",
                                     "enable.auto.commit": False,
                                     "enable.partition.eof": False}))

    @staticmethod
    def _partition(topic: str, partition: int, offset: int | None = None) -> Any:
        from confluent_kafka import TopicPartition

        return (TopicPartition(topic, partition) if offset is None
                else TopicPartition(topic, partition, offset))


def shown(message: Any) -> dict[str, Any]:
    """One message as the pages show it."""
    kind, millis = message.timestamp()
    when = (datetime.fromtimestamp(millis / 1000, tz=timezone.utc).isoformat(timespec="seconds")
            if kind and millis >= 0 else None)
    return {"partition": message.partition(), "offset": message.offset(), "timestamp": when,
            "key": text(message.key()), "value": text(message.value()),
            "headers": [(name, text(value)) for name, value in (message.headers() or [])]}
