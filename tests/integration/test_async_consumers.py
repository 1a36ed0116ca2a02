"""Async consumers on a real broker: order, commits, produce_async, retries, stops, blocking."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from engine import Consumer, DeadLetterQueue, Messages, StopTimeout, VirtualPartitions
from tests.integration.conftest import (
    DEADLINE,
    Recorder,
    committed,
    make_app,
    produce,
    wait_until,
)
from tests.integration.test_virtual_partitions import run_until


class Seen:
    """Offsets per partition, in the order the consumers saw them, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.offsets: dict[int, list[int]] = {}
        self.threads: set[str] = set()

    def add(self, messages: Messages) -> None:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            for message in messages:
                self.offsets.setdefault(message.partition, []).append(message.offset)

    def count(self) -> int:
        with self.lock:
            return sum(len(set(offsets)) for offsets in self.offsets.values())


def test_an_async_consumer_processes_everything_in_order_on_the_loop_and_commits(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    topic, target = make_topic(partitions=2), make_topic(partitions=1)
    seen = Seen()

    class Enrich(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)
                await self.produce_async(target, message.raw_payload, key=message.raw_key)
            seen.add(messages)

    group = unique("g")
    app = make_app(bootstrap, group)
    app.topic(topic, Enrich)
    written = produce(bootstrap, topic, [(f"k{i % 7}", f"v{i}") for i in range(200)])
    app.start()
    try:
        wait_until(lambda: seen.count() == 200, message="every message processed")
        wait_until(lambda: committed(bootstrap, group, topic, 2) == {
            p: max(offsets) + 1 for p, offsets in written.items()}, message="the commits")
    finally:
        app.stop()
    assert seen.threads == {"engine.loop"}
    for partition, offsets in written.items():
        assert seen.offsets[partition] == offsets  # each once, in order
    copied = produce_count(bootstrap, target)
    assert copied == 200


def produce_count(bootstrap: str, topic: str) -> int:
    """Messages in partition 0 of ``topic`` (its high watermark)."""
    from confluent_kafka import Consumer as KafkaConsumer
    from confluent_kafka import TopicPartition

    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "count"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1])
    finally:
        consumer.close()


def test_an_async_failure_is_retried_with_back_off_then_dead_lettered(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    topic, dlq = make_topic(partitions=1), make_topic(partitions=1)
    attempts: list[int] = []
    done: list[int] = []

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)
                if message.payload == b"poison":
                    attempts.append(self.attempt)
                    raise ValueError("poison")
                done.append(message.offset)
                self.mark_as_consumed(message)

    group = unique("g")
    app = make_app(bootstrap, group, pause_timeout=0.2, pause_max_timeout=0.5)
    app.topic(topic, Orders, deserializer=lambda raw: raw.raw_payload,
              dead_letter_queue=DeadLetterQueue(dlq, max_retries=2))
    recorder = Recorder(app)
    produce(bootstrap, topic, [b"a", b"poison", b"b"])
    app.start()
    try:
        wait_until(lambda: committed(bootstrap, group, topic, 1) == {0: 3},
                   message="everything committed, the poison dead-lettered")
    finally:
        app.stop()
    assert attempts == [1, 2, 3] and sorted(set(done)) == [0, 2]
    assert [event["attempt"] for event in recorder.of("consumer.consuming.retry")] == [1, 2]
    (dispatched,) = recorder.of("dead_letter_queue.dispatched")
    assert dispatched["offset"] == 1 and produce_count(bootstrap, dlq) == 1


def test_a_stop_cancels_tasks_still_waiting_at_shutdown_timeout_and_marks_nothing_of_them(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    topic = make_topic(partitions=1)
    started, cancelled = threading.Event(), threading.Event()

    class Stuck(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            started.set()
            try:
                await asyncio.sleep(3600)  # waits on I/O that never answers
            except asyncio.CancelledError:
                cancelled.set()
                raise

    group = unique("g")
    app = make_app(bootstrap, group, shutdown_timeout=3.0, max_wait_time=0.5)
    app.topic(topic, Stuck)
    recorder = Recorder(app)
    produce(bootstrap, topic, [b"one", b"two"])
    app.start()
    assert started.wait(DEADLINE)
    with pytest.raises(StopTimeout) as overdue:
        app.stop()
    assert cancelled.is_set()
    assert overdue.value.report["cancelled"] and "Consume(" in overdue.value.report["cancelled"][0]
    wait_until(lambda: app.state.name == "TERMINATED", message="the stop ended after the cancel")
    assert committed(bootstrap, group, topic, 1)[0] < 0  # nothing of the batch was marked
    kinds = [event["type"] for event in recorder.of("error.occurred")]
    assert "app.stopping.error" in kinds


def test_sync_and_async_consumers_run_side_by_side_in_one_app(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    plain, awaited = make_topic(partitions=1), make_topic(partitions=1)
    seen = Seen()

    class Plain(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.add(messages)

    class Awaited(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            seen.add(messages)

    group = unique("g")
    app = make_app(bootstrap, group)
    app.topic(plain, Plain)
    app.topic(awaited, Awaited)
    produce(bootstrap, plain, [f"p{number}" for number in range(30)])
    produce(bootstrap, awaited, [f"a{number}" for number in range(30)])
    app.start()
    try:
        wait_until(lambda: committed(bootstrap, group, plain, 1) == {0: 30}
                   and committed(bootstrap, group, awaited, 1) == {0: 30},
                   message="both topics committed")
    finally:
        app.stop()
    assert "engine.loop" in seen.threads
    assert any(name.startswith("engine.worker") for name in seen.threads)


def test_a_blocking_call_inside_async_def_is_reported_as_a_blocked_loop(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    topic = make_topic(partitions=1)

    class Blocking(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            time.sleep(0.2)  # sync I/O inside async def

    group = unique("g")
    app = make_app(bootstrap, group, loop_stall_threshold=0.05)
    app.topic(topic, Blocking)
    recorder = Recorder(app)
    produce(bootstrap, topic, [b"x"])
    app.start()
    try:
        wait_until(lambda: any(event["type"] == "consumer.loop.blocked"
                               for event in recorder.of("error.occurred")),
                   message="the blocked loop reported")
    finally:
        app.stop()
    (event,) = [e for e in recorder.of("error.occurred") if e["type"] == "consumer.loop.blocked"]
    assert event["stalled"] >= 0.2 and event["topic"] == topic


def test_max_async_jobs_bounds_the_tasks_in_flight(
        bootstrap: str, make_topic: Any, unique: Any) -> None:
    topic = make_topic(partitions=1)
    bound = 2
    state = {"running": 0, "most": 0}

    class Awaiting(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            state["running"] += 1  # tasks of one loop: no lock needed between awaits
            state["most"] = max(state["most"], state["running"])
            await asyncio.sleep(0.05)  # I/O: the batch's other tasks start meanwhile, if allowed
            state["running"] -= 1
            seen.add(messages)

    seen = Seen()
    group = unique("g")
    app = make_app(bootstrap, group, max_async_jobs=bound)
    app.topic(topic, Awaiting, virtual_partitions=VirtualPartitions(max_partitions=8))
    produce(bootstrap, topic, [(f"k{number % 8}", b"x") for number in range(40)])
    run_until(app, (lambda: committed(bootstrap, group, topic, 1) == {0: 40},
                    "everything committed"))
    assert seen.count() == 40
    assert 1 <= state["most"] <= bound  # (8 virtual partitions' tasks at once without it)
