"""One Kafka message with lazily deserialized payload and key."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

from engine.errors import DeserializationError
from engine.messages.deserializers import DEFAULT, Deserializers

_NO_TIMESTAMP = 0  # confluent_kafka.TIMESTAMP_NOT_AVAILABLE


class RawMessage(Protocol):
    """What the engine reads from a polled message (``confluent_kafka.Message`` fits)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


class Origin(NamedTuple):
    """What every message of one batch shares: where it comes from, how to deserialize it."""

    topic: str
    partition: int
    deserializers: Deserializers = DEFAULT


class Message:
    """A message of one batch: offset and raw payload eagerly, the rest on access.

    Built once per message on the hot path, so it holds only what most consumers read.
    """

    __slots__ = ("__weakref__", "_key", "_origin", "_payload", "_raw", "offset", "raw_payload")

    def __init__(self, raw: RawMessage, origin: Origin) -> None:
        self._raw = raw
        self._origin = origin
        self.offset: int = raw.offset()  # type: ignore[assignment]
        self.raw_payload: bytes | None = raw.value()
        # _payload and _key stay unset until first read: two stores fewer per message

    @classmethod
    def of(cls, raw: RawMessage, topic: str, partition: int,
           deserializers: Deserializers = DEFAULT) -> Message:
        """A message outside a batch (tests, tools)."""
        return cls(raw, Origin(topic, partition, deserializers))

    @property
    def topic(self) -> str:
        """The topic it was read from."""
        return self._origin.topic

    @property
    def partition(self) -> int:
        """The partition it was read from."""
        return self._origin.partition

    @property
    def payload(self) -> Any:
        """The deserialized payload (cached); raises ``DeserializationError`` if it cannot be."""
        try:
            return self._payload
        except AttributeError:
            pass  # not read yet; deserialized outside the handler, so no error chains to it
        self._payload: Any = self._deserialize(self._origin.deserializers.payload, "payload")
        return self._payload

    @property
    def key(self) -> Any:
        """The deserialized key (cached); UTF-8 text by default."""
        try:
            return self._key
        except AttributeError:
            pass  # not read yet; deserialized outside the handler, so no error chains to it
        self._key: Any = self._deserialize(self._origin.deserializers.key, "key")
        return self._key

    @property
    def raw_key(self) -> bytes | None:
        """The key bytes as received."""
        return self._raw.key()

    @property
    def raw_headers(self) -> list[tuple[str, bytes | None]]:
        """Headers as sent: ``(name, value)`` pairs, repeats kept."""
        return list(self._raw.headers() or ())

    @property
    def headers(self) -> dict[str, bytes | None]:
        """Headers as a dict; the last value of a repeated name wins."""
        return dict(self._raw.headers() or ())

    @property
    def timestamp(self) -> datetime | None:
        """When the message was created (or appended), UTC; None when the broker gave none."""
        kind, millis = self._raw.timestamp()
        if kind == _NO_TIMESTAMP:
            return None
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)

    @property
    def is_tombstone(self) -> bool:
        """True when the payload is None (a deletion marker on compacted topics)."""
        return self.raw_payload is None

    def _deserialize(self, deserializer: Any, part: str) -> Any:
        try:
            return deserializer(self)
        except DeserializationError:
            raise
        except Exception as error:
            raise DeserializationError(
                self.topic, self.partition, self.offset, part, error
            ) from error

    def __repr__(self) -> str:
        """Where the message sits: topic/partition@offset."""
        return f"<Message {self.topic}/{self.partition}@{self.offset}>"
