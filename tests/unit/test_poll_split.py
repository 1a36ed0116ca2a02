"""Splitting a poll: librdkafka's messages (mapped at C level) and other types split alike."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as KafkaMessage

from engine import App, Consumer, Messages
from engine.connection.poll_split import PollSplitter
from tests.fakes import FakeRaw


class _Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


class _FakeEvent(FakeRaw):
    """An error event of another type than librdkafka's."""

    __slots__ = ("_error",)

    def __init__(self, topic: str, partition: int, offset: int, error: KafkaError) -> None:
        super().__init__(topic, partition, offset)
        self._error = error

    def error(self) -> KafkaError:  # type: ignore[override]
        return self._error


def _fake(topic: str, partition: int, offset: int, error: KafkaError | None = None) -> Any:
    """A polled message of another type than librdkafka's (as the testing kit's are)."""
    if error is None:
        return FakeRaw(topic, partition, offset)
    return _FakeEvent(topic, partition, offset, error)


def _real(topic: str, partition: int, offset: int, error: KafkaError | None = None) -> Any:
    if error is None:
        return KafkaMessage(topic=topic, partition=partition, offset=offset, value=b"x")
    return KafkaMessage(topic=topic, partition=partition, offset=offset, error=error)


def _splitter(*topics: str) -> tuple[PollSplitter, list[dict[str, Any]]]:
    app = App(kafka={"bootstrap.servers": "127.0.0.1:9"}, client_id="split")
    for topic in topics:
        app.topic(topic, _Idle)
    reported: list[dict[str, Any]] = []
    app.monitor.subscribe("error.occurred", lambda sender, **payload: reported.append(payload))
    return PollSplitter(app.subscription_groups()[0], app.monitor, app), reported


def _offsets(batches: dict[Any, list[Any]]) -> dict[Any, list[int]]:
    return {key: [raw.offset() for raw in raws] for key, raws in batches.items()}


@pytest.mark.parametrize("make", [_real, _fake], ids=["librdkafka", "other"])
def test_one_partition_is_one_batch_in_order(make: Any) -> None:
    splitter, _ = _splitter("t")
    batches, ended = splitter.split([make("t", 2, offset) for offset in (5, 6, 7)])
    assert _offsets(batches) == {("t", 2): [5, 6, 7]}
    assert ended == []


@pytest.mark.parametrize("make", [_real, _fake], ids=["librdkafka", "other"])
def test_partitions_of_one_topic_are_split_each_in_order(make: Any) -> None:
    splitter, _ = _splitter("t")
    raws = [make("t", 3, 1), make("t", 0, 7), make("t", 3, 2), make("t", 1, 4), make("t", 0, 8)]
    batches, _ = splitter.split(raws)
    assert _offsets(batches) == {("t", 3): [1, 2], ("t", 0): [7, 8], ("t", 1): [4]}
    assert list(batches) == [("t", 3), ("t", 0), ("t", 1)]  # in order of first appearance


@pytest.mark.parametrize("make", [_real, _fake], ids=["librdkafka", "other"])
def test_partitions_and_topics_are_split_each_in_order(make: Any) -> None:
    splitter, _ = _splitter("t", "u")
    raws = [make("t", 0, 1), make("u", 0, 7), make("t", 1, 3), make("t", 0, 2)]
    batches, _ = splitter.split(raws)
    assert _offsets(batches) == {("t", 0): [1, 2], ("u", 0): [7], ("t", 1): [3]}
    assert list(batches) == [("t", 0), ("u", 0), ("t", 1)]


@pytest.mark.parametrize("make", [_real, _fake], ids=["librdkafka", "other"])
def test_a_partition_end_is_taken_out_and_named(make: Any) -> None:
    splitter, reported = _splitter("t")
    eof = KafkaError(KafkaError._PARTITION_EOF)
    batches, ended = splitter.split([make("t", 0, 4), make("t", 1, 9, eof), make("t", 0, 5)])
    assert _offsets(batches) == {("t", 0): [4, 5]}
    assert ended == [("t", 1)]
    assert reported == []


@pytest.mark.parametrize("make", [_real, _fake], ids=["librdkafka", "other"])
def test_other_errors_are_reported_and_only_ends_returned(make: Any) -> None:
    splitter, reported = _splitter("t")
    transport = KafkaError(KafkaError._TRANSPORT)
    batches, ended = splitter.split([make("t", 0, 0, transport)])
    assert (batches, ended) == ({}, [])
    assert [payload["type"] for payload in reported] == ["connection.client.poll.error"]
    assert isinstance(reported[0]["error"], KafkaException)
