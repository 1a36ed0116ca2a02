"""Test doubles that stand in for confluent-kafka objects in unit tests."""

from __future__ import annotations


class FakeRaw:
    """A polled message, shaped like ``confluent_kafka.Message``."""

    __slots__ = ("_headers", "_key", "_offset", "_partition", "_topic", "_ts", "_value")

    def __init__(
        self, topic: str, partition: int, offset: int, *, value: bytes | None = b"null",
        key: bytes | None = None, headers: list[tuple[str, bytes | None]] | None = None,
        ts: int | None = 0,
    ) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset
        self._value, self._key, self._headers, self._ts = value, key, headers, ts

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (0, 0) if self._ts is None else (1, self._ts)

    def error(self) -> None:
        return None
