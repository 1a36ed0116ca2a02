"""Offsets on the cluster: watermarks, a group's committed offsets, offsets for a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, TopicPartition

# re-exported without a declaration, and untyped: mypy sees neither
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

from engine.admin.cluster import Cluster
from engine.admin.problems import FAILURES, kafka_error, problem
from engine.errors import AdminError

Key = tuple[str, int]  # (topic, partition)
_EARLIEST: Callable[[], Any] = OffsetSpec.earliest
_LATEST: Callable[[], Any] = OffsetSpec.latest
# a partition whose leadership is still settling (just added, or its broker restarted):
# Kafka says so with these, and the same request succeeds a moment later
_SETTLING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                       KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.NOT_ENOUGH_REPLICAS})
_SETTLE_PAUSE = 0.1  # seconds between asks while leadership settles


def watermarks(cluster: Cluster, partitions: Mapping[str, int]) -> dict[Key, tuple[int, int]]:
    """(low, high) of every partition of the topics (name -> partition count)."""
    keys = [(topic, index) for topic, count in partitions.items() for index in range(count)]
    low = _list(cluster, keys, _EARLIEST, "reading its low watermark")
    high = _list(cluster, keys, _LATEST, "reading its high watermark")
    return {key: (low[key], high[key]) for key in keys}


def offsets_at(cluster: Cluster, topic: str, count: int, millis: int) -> dict[int, int]:
    """Per partition, the first offset whose timestamp is at or after ``millis`` (else the end)."""
    keys = [(topic, index) for index in range(count)]
    found = _list(cluster, keys, lambda: OffsetSpec.for_timestamp(millis),
                  "looking up an offset by time")
    ends = _list(cluster, [key for key in keys if found[key] < 0], _LATEST,
                 "reading its high watermark")
    return {index: ends.get((topic, index), found[topic, index]) for topic, index in keys}


def committed(cluster: Cluster, consumer_group: str, keys: Sequence[Key]) -> dict[Key, int | None]:
    """The group's committed offset per partition (None: nothing committed)."""
    if not keys:
        return {}
    partitions = [TopicPartition(topic, partition) for topic, partition in keys]
    result = _group_call(cluster, cluster.client.list_consumer_group_offsets, consumer_group,
                         partitions, "reading its offsets")
    return {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None
            for tp in result.topic_partitions}


def commit(cluster: Cluster, consumer_group: str, topic: str, offsets: Mapping[int, int]) -> None:
    """Set the group's committed offsets (the group must have no members)."""
    partitions = [TopicPartition(topic, partition, offset)
                  for partition, offset in offsets.items()]
    result = _group_call(cluster, cluster.client.alter_consumer_group_offsets, consumer_group,
                         partitions, "setting its offsets")
    refused = [tp for tp in result.topic_partitions if tp.error is not None]
    if refused:
        raise AdminError([f"consumer group {consumer_group!r}:"
                          f" setting {tp.topic}/{tp.partition} failed:"
                          f" {tp.error.str()} (hint: see the broker's log)" for tp in refused])


def _group_call(cluster: Cluster, call: Callable[..., Any], consumer_group: str,
                partitions: list[TopicPartition], action: str) -> Any:
    """One consumer-group offsets request and its answer, or ``AdminError``."""
    future = call([ConsumerGroupTopicPartitions(consumer_group, partitions)],
                  request_timeout=cluster.timeout)[consumer_group]
    try:
        return future.result(cluster.timeout)
    except FAILURES as error:
        subject = f"consumer group {consumer_group!r}"
        raise AdminError([problem(subject, action, error)]) from error


def _list(cluster: Cluster, keys: Sequence[Key], spec: Callable[[], Any],
          action: str) -> dict[Key, int]:
    """Each partition's offset for ``spec``, or ``AdminError``.

    Partitions whose leadership is still settling are asked again until the cluster's timeout;
    any other refusal is a problem at once.
    """
    deadline = time.monotonic() + cluster.timeout
    found: dict[Key, int] = {}
    pending = list(keys)
    while True:
        settling, problems = _ask(cluster, pending, spec, action, found)
        if problems or not settling or time.monotonic() + _SETTLE_PAUSE > deadline:
            problems += [problem(f"{key[0]}/{key[1]}", action, error) for key, error in settling]
            break
        time.sleep(_SETTLE_PAUSE)  # nothing to wait on: the broker only answers when asked
        pending = [key for key, _ in settling]
    if problems:
        raise AdminError(problems)
    return found


def _ask(cluster: Cluster, keys: Sequence[Key], spec: Callable[[], Any], action: str,
         found: dict[Key, int]) -> tuple[list[tuple[Key, BaseException]], list[str]]:
    """One ListOffsets request into ``found``: (the settling partitions, problem lines)."""
    if not keys:
        return [], []
    partitions = {key: TopicPartition(*key) for key in keys}
    futures = cluster.client.list_offsets(
        {tp: spec() for tp in partitions.values()}, request_timeout=cluster.timeout)
    settling: list[tuple[Key, BaseException]] = []
    problems: list[str] = []
    for key, tp in partitions.items():
        try:
            found[key] = futures[tp].result(cluster.timeout).offset
        except FAILURES as error:
            code = kafka_error(error)
            if code is not None and code.code() in _SETTLING:
                settling.append((key, error))
            else:
                problems.append(problem(f"{key[0]}/{key[1]}", action, error))
    return settling, problems
