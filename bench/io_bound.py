"""An I/O-bound consumer on one partition: the engine without and with virtual partitions.

    python bench/io_bound.py [--messages 2000] [--keys 1000] [--wait-ms 5] [--bootstrap H:P]

Produces ``messages`` messages over ``keys`` keys into a one-partition topic once, then runs,
one after the other, in this process and each with a fresh consumer group: the engine with a
consumer that waits ``wait-ms`` per message (``time.sleep``, standing for a database write or an
HTTP call) at ``concurrency=16`` without virtual partitions, and the same consumer and settings
with ``VirtualPartitions(max_partitions=16)``. Each run is timed from its first message to its
last (one run each: the gap is far larger than the noise). Prints msgs/s of both and the ratio.
"""

from __future__ import annotations

import argparse
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


def run(bootstrap: str, count: int, wait: float, virtual: VirtualPartitions | None) -> float:
    """Seconds from the first message to the ``count``-th, with or without ``virtual``."""
    lock = threading.Lock()
    state = {"seen": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    class Waiting(Consumer):
        def consume(self, messages: Messages) -> None:
            with lock:
                state["first"] = state["first"] or time.perf_counter()
            for _ in messages:
                time.sleep(wait)  # the I/O this benchmark is about
            with lock:
                state["seen"] += len(messages)
                if state["seen"] >= count and not done.is_set():
                    state["last"] = time.perf_counter()
                    done.set()

    app = App(kafka={"bootstrap.servers": bootstrap, **FAST_GROUP},
              client_id=f"io-{uuid.uuid4().hex[:8]}", concurrency=CONCURRENCY)
    app.topic(TOPIC, Waiting, virtual_partitions=virtual)
    app.start()
    try:
        if not done.wait(count * wait + 120):
            raise TimeoutError(f"only {state['seen']} of {count} messages came")
    finally:
        app.stop()
    return state["last"] - state["first"]


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
    finally:
        if broker is not None:
            broker.stop()
    print(f"one partition, {args.messages} messages, {args.keys} keys,"
          f" {args.wait_ms:g} ms per message, concurrency={CONCURRENCY}")
    print(f"without virtual partitions: {plain:10,.0f} msgs/s")
    print(f"with max_partitions={CONCURRENCY}:      {virtual:10,.0f} msgs/s")
    print(f"ratio: {virtual / plain:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
