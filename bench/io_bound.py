"""An I/O-bound consumer on one partition: without and with virtual partitions, sync and async.

    python bench/io_bound.py [--messages 2000] [--keys 1000] [--wait-ms 5] [--bootstrap H:P]

Produces ``messages`` messages over ``keys`` keys into a one-partition topic once, then runs,
one after the other, in this process and each with a fresh consumer group: the engine with a
consumer that waits ``wait-ms`` per message (``time.sleep``, standing for a database write or an
HTTP call) at ``concurrency=16`` without virtual partitions, and the same consumer and settings
with ``VirtualPartitions(max_partitions=16)``; then an async consumer that awaits
``asyncio.sleep(wait-ms)`` per message, with ``VirtualPartitions(max_partitions=64)``. Each run
is timed from its first message to its last (one run each: the gaps are far larger than the
noise). Prints msgs/s of each and their ratios to the first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import App, Consumer, Messages, VirtualPartitions
from engine.broker import EmbeddedBroker, create_topics

TOPIC = "io-bound"
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
CONCURRENCY = 16
ASYNC_PARTITIONS = 64


def produce(bootstrap: str, count: int, keys: int) -> None:
    """``count`` messages, keys cycling over ``keys`` values, into the one partition."""
    from confluent_kafka import Producer

    create_topics(bootstrap, {TOPIC: 1})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for index in range(count):
        producer.produce(TOPIC, b"x" * 100, key=f"key-{index % keys}".encode(), partition=0)
        if index % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)


class Progress:
    """Messages seen across the consumers of one run, and when the first and the last came."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.lock = threading.Lock()
        self.seen, self.first, self.last = 0, 0.0, 0.0
        self.done = threading.Event()

    def started(self) -> None:
        with self.lock:
            self.first = self.first or time.perf_counter()

    def add(self, seen: int) -> None:
        with self.lock:
            self.seen += seen
            if self.seen >= self.count and not self.done.is_set():
                self.last = time.perf_counter()
                self.done.set()


def consumer_class(progress: Progress, wait: float, awaiting: bool) -> type[Consumer]:
    """A consumer that waits ``wait`` per message: ``time.sleep``, or ``asyncio.sleep``."""

    class Waiting(Consumer):
        def consume(self, messages: Messages) -> None:
            progress.started()
            for _ in messages:
                time.sleep(wait)  # the I/O this benchmark is about
            progress.add(len(messages))

    class Awaiting(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            progress.started()
            for _ in messages:
                await asyncio.sleep(wait)  # the same I/O, awaited
            progress.add(len(messages))

    return Awaiting if awaiting else Waiting


def run(bootstrap: str, count: int, wait: float, virtual: VirtualPartitions | None,
        awaiting: bool = False) -> float:
    """Seconds from the first message to the ``count``-th, with or without ``virtual``."""
    progress = Progress(count)
    app = App(kafka={"bootstrap.servers": bootstrap, **FAST_GROUP},
              client_id=f"io-{uuid.uuid4().hex[:8]}", concurrency=CONCURRENCY)
    app.topic(TOPIC, consumer_class(progress, wait, awaiting), virtual_partitions=virtual)
    app.start()
    try:
        if not progress.done.wait(count * wait + 120):
            raise TimeoutError(f"only {progress.seen} of {count} messages came")
    finally:
        app.stop()
    return progress.last - progress.first


def main() -> None:
    """Parse the options, produce once, run both variants, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--wait-ms", type=float, default=5.0)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    broker = None if args.bootstrap else EmbeddedBroker().start()
    bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
    try:
        produce(bootstrap, args.messages, args.keys)
        wait = args.wait_ms / 1000
        plain = args.messages / run(bootstrap, args.messages, wait, None)
        virtual = args.messages / run(bootstrap, args.messages, wait,
                                      VirtualPartitions(max_partitions=CONCURRENCY))
        awaited = args.messages / run(bootstrap, args.messages, wait,
                                      VirtualPartitions(max_partitions=ASYNC_PARTITIONS),
                                      awaiting=True)
    finally:
        if broker is not None:
            broker.stop()
    print(f"one partition, {args.messages} messages, {args.keys} keys,"
          f" {args.wait_ms:g} ms per message, concurrency={CONCURRENCY}")
    print(f"without virtual partitions: {plain:10,.0f} msgs/s")
    print(f"with max_partitions={CONCURRENCY}:      {virtual:10,.0f} msgs/s")
    print(f"ratio: {virtual / plain:.1f}x (target >= 10x)")
    print(f"async, max_partitions={ASYNC_PARTITIONS}: {awaited:10,.0f} msgs/s")
    print(f"ratio: {awaited / plain:.1f}x (target >= 40x)")


if __name__ == "__main__":
    main()
