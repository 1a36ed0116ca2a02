"""Async consumers on a real broker: order, commits, produce_async, retries, stops, blocking."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from engine import Consumer, Messages
from tests.integration.conftest import (
    committed,
    make_app,
    produce,
    wait_until,
)


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
