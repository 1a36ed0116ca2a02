"""What Kafka applies a moment after it answers: asked again until it shows, never a false failure.

Reading offsets while a partition's leadership settles, and a config set but not yet described.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from engine.admin import SetConfig
from engine.admin.cluster import Cluster
from engine.admin.offsets import watermarks
from engine.errors import AdminError


class Answer:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class SettlingClient:
    """ListOffsets that refuses a partition with ``code`` for its first ``refusals`` asks."""

    def __init__(self, refusals: int, code: int = KafkaError.NOT_LEADER_FOR_PARTITION) -> None:
        self.refusals, self.code, self.asked = refusals, code, 0

    def list_offsets(self, specs: dict[TopicPartition, Any], request_timeout: float) -> Any:
        self.asked += 1
        futures: dict[TopicPartition, Future[Answer]] = {}
        for tp in specs:
            future: Future[Answer] = Future()
            if tp.partition == 1 and self.refusals > 0:
                future.set_exception(KafkaException(KafkaError(self.code)))
            else:
                future.set_result(Answer(7))
            futures[tp] = future
        if any(tp.partition == 1 for tp in specs):
            self.refusals -= 1
        return futures


class FakeCluster:
    def __init__(self, client: SettlingClient, timeout: float) -> None:
        self.client, self.timeout = client, timeout


def read(client: SettlingClient, timeout: float) -> dict[tuple[str, int], tuple[int, int]]:
    return watermarks(cast(Cluster, FakeCluster(client, timeout)), {"grown": 2})


def test_a_partition_whose_leader_is_settling_is_asked_again_until_it_answers() -> None:
    client = SettlingClient(refusals=3)
    assert read(client, timeout=30) == {("grown", 0): (7, 7), ("grown", 1): (7, 7)}
    assert client.asked == 5  # low: 1 + 3 retries of partition 1; high: 1


def test_a_leader_that_never_settles_is_a_problem_after_the_timeout() -> None:
    client = SettlingClient(refusals=1_000)
    with pytest.raises(AdminError) as caught:
        read(client, timeout=0.3)
    (line,) = caught.value.problems
    assert line.startswith("grown/1: reading its low watermark failed: Broker: Not leader")


def test_any_other_refusal_is_a_problem_at_once() -> None:
    client = SettlingClient(refusals=1_000, code=KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(AdminError) as caught:
        read(client, timeout=30)
    assert client.asked == 1
    assert "not authorised for reading its low watermark" in caught.value.problems[0]


class Entry:
    def __init__(self, value: str) -> None:
        self.value = value


class LaggingConfigs:
    """Sets configs at once, but describes the old value for the first ``lag`` asks."""

    def __init__(self, lag: int) -> None:
        self.lag, self.described = lag, 0

    def incremental_alter_configs(self, resources: list[Any], request_timeout: float) -> Any:
        return {resource: done(None) for resource in resources}

    def describe_configs(self, resources: list[Any], request_timeout: float) -> Any:
        self.described += 1
        value = "1" if self.described <= self.lag else "2"
        return {resource: done({"retention.ms": Entry(value)}) for resource in resources}


def done(result: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(result)
    return future


def set_retention(client: LaggingConfigs, timeout: float) -> tuple[list[Any], list[str]]:
    cluster = Cluster({"bootstrap.servers": "127.0.0.1:9"}, timeout)
    cluster.client = client
    return cluster.set_configs([SetConfig("orders", "retention.ms", "1", "2")])


def test_a_set_config_is_done_once_describing_the_topic_shows_it() -> None:
    client = LaggingConfigs(lag=3)
    changes, problems = set_retention(client, timeout=30)
    assert (changes, problems) == ([SetConfig("orders", "retention.ms", "1", "2")], [])
    assert client.described == 4


def test_a_set_config_never_described_is_a_problem_after_the_timeout() -> None:
    _, problems = set_retention(LaggingConfigs(lag=1_000), timeout=0.3)
    assert problems == ["orders: retention.ms set, but still described as '1' after 0.3s"
                        " (hint: check the brokers' health)"]
