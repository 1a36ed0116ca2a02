"""Splitting a poll: librdkafka's messages (mapped at C level) and other types split alike."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as KafkaMessage

from engine import App, Consumer, Messages
from engine.connection.poll_split import PollSplitter


class _Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


class _Fake:
    """A polled message of another type than librdkafka's (as the testing kit's are)."""

    def __init__(self, topic: str, partition: int, offset: int,
                 error: KafkaError | None = None) -> None:
        self._topic, self._partition, self._offset, self._error = topic, partition, offset, error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> KafkaError | None:
        return self._error


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


@pytest.mark.parametrize("make", [_real, _Fake], ids=["librdkafka", "other"])
def test_one_partition_is_one_batch_in_order(make: Any) -> None:
    splitter, _ = _splitter("t")
    batches, ended = splitter.split([make("t", 2, offset) for offset in (5, 6, 7)])
    assert _offsets(batches) == {("t", 2): [5, 6, 7]}
    assert ended == []


@pytest.mark.parametrize("make", [_real, _Fake], ids=["librdkafka", "other"])
def test_partitions_and_topics_are_split_each_in_order(make: Any) -> None:
    splitter, _ = _splitter("t", "u")
    raws = [make("t", 0, 1), make("u", 0, 7), make("t", 1, 3), make("t", 0, 2)]
    batches, _ = splitter.split(raws)
    assert _offsets(batches) == {("t", 0): [1, 2], ("u", 0): [7], ("t", 1): [3]}


@pytest.mark.parametrize("make", [_real, _Fake], ids=["librdkafka", "other"])
def test_a_partition_end_is_taken_out_and_named(make: Any) -> None:
    splitter, reported = _splitter("t")
    eof = KafkaError(KafkaError._PARTITION_EOF)
    batches, ended = splitter.split([make("t", 0, 4), make("t", 1, 9, eof), make("t", 0, 5)])
    assert _offsets(batches) == {("t", 0): [4, 5]}
    assert ended == [("t", 1)]
    assert reported == []


@pytest.mark.parametrize("make", [_real, _Fake], ids=["librdkafka", "other"])
def test_other_errors_are_reported_and_only_ends_returned(make: Any) -> None:
    splitter, reported = _splitter("t")
    transport = KafkaError(KafkaError._TRANSPORT)
    batches, ended = splitter.split([make("t", 0, 0, transport)])
    assert (batches, ended) == ({}, [])
    assert [payload["type"] for payload in reported] == ["connection.client.poll.error"]
    assert isinstance(reported[0]["error"], KafkaException)
