"""End-to-end latency, produce to ``consume``, of the engine against a plain ``poll()`` loop.

    python bench/latency.py [--rate 1000] [--seconds 10] [--runs 3] [--broker kafka|tansu]
                            [--bootstrap HOST:PORT]

Starts Apache Kafka (KRaft, the test suite's jars; ``--broker tansu`` for the embedded one, or
``--bootstrap`` for a running broker), then alternates runs of the raw loop and the engine
(its defaults). Each run is a fresh process, topic and consumer group: once the consumer owns
its partitions, this process produces ``rate`` messages a second for ``seconds`` (after one
second of warm-up) stamped with the wall clock; the consumer records now minus stamp for each
message. Prints p50 and p99 per run and their medians, and engine minus raw.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.broker import EmbeddedBroker, create_topics

PARTITIONS = 3
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
WARM_UP = 1.0
STAMP = struct.Struct("!d")  # wall-clock seconds when produced; a negative one ends the run


def run_raw(bootstrap: str, topic: str, group: str) -> list[float]:
    """The plain loop: ``poll()`` one message at a time, librdkafka's defaults."""
    from confluent_kafka import Consumer as KafkaConsumer

    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", **FAST_GROUP})
    consumer.subscribe([topic], on_assign=lambda c, parts: print("ready", flush=True))
    latencies: list[float] = []
    ended: set[int] = set()
    while len(ended) < PARTITIONS:
        message = consumer.poll(0.5)
        if message is None or message.error() is not None:
            continue
        stamp = STAMP.unpack(message.value())[0]
        if stamp < 0:
            ended.add(message.partition())
        else:
            latencies.append(time.time() - stamp)
    consumer.close()
    return latencies


def run_engine(bootstrap: str, topic: str, group: str) -> list[float]:
    """The engine with its defaults; latency taken where user code first sees the message."""
    import threading

    from engine import App, Consumer, Messages

    latencies: list[float] = []
    ended: set[int] = set()
    all_ended = threading.Event()

    class Stamped(Consumer):
        def consume(self, messages: Messages) -> None:
            now = time.time()
            for message in messages:
                stamp = STAMP.unpack(message.raw_payload or b"")[0]
                if stamp < 0:
                    ended.add(self.partition)  # set.add is atomic; a double set() is harmless
                    if len(ended) == PARTITIONS:
                        all_ended.set()
                else:
                    latencies.append(now - stamp)

    app = App(kafka={"bootstrap.servers": bootstrap, **FAST_GROUP}, client_id=group)
    app.monitor.subscribe("rebalance.partitions_assigned",
                          lambda sender, **event: print("ready", flush=True))
    app.topic(topic, Stamped)
    app.start()
    all_ended.wait(300)
    app.stop()
    return latencies


def produce_steadily(bootstrap: str, topic: str, rate: int, seconds: float) -> None:
    """``rate`` messages a second, evenly spaced, then one end marker per partition."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    interval, started, sent = 1.0 / rate, time.perf_counter(), 0
    total = int(rate * (seconds + WARM_UP))
    while sent < total:
        due = started + sent * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the load generator, not synchronising a test
        producer.produce(topic, STAMP.pack(time.time()), partition=sent % PARTITIONS)
        producer.poll(0)
        sent += 1
    for partition in range(PARTITIONS):
        producer.produce(topic, STAMP.pack(-1.0), partition=partition)
    producer.flush(30)


def one_run(variant: str, bootstrap: str, rate: int, seconds: float) -> dict[str, float]:
    """Start a consumer process, load it once it owns its partitions, read its figures."""
    topic, group = f"latency-{uuid.uuid4().hex[:8]}", f"latency-{variant}-{uuid.uuid4().hex[:6]}"
    create_topics(bootstrap, {topic: PARTITIONS})
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", variant, "--bootstrap", bootstrap,
         "--topic", topic, "--group", group], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == "ready":
            break
    produce_steadily(bootstrap, topic, rate, seconds)
    output, _ = child.communicate(timeout=120)
    arrivals: list[float] = json.loads(output.strip().splitlines()[-1])
    steady = sorted(arrivals[int(rate * WARM_UP):])  # the warm-up second does not count
    return {"p50": percentile(steady, 50) * 1000, "p99": percentile(steady, 99) * 1000,
            "count": float(len(arrivals))}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    index = min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))
    return values[index]


def broker(kind: str, bootstrap: str | None) -> AbstractContextManager[Any]:
    """The broker to measure against, as a context manager with ``.bootstrap``."""
    if bootstrap:
        from contextlib import nullcontext
        from types import SimpleNamespace

        return nullcontext(SimpleNamespace(bootstrap=bootstrap))
    if kind == "tansu":
        return EmbeddedBroker()
    from tests.brokers.kafka import KafkaBroker

    return KafkaBroker()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka")
    parser.add_argument("--bootstrap")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        runner = run_raw if args.child == "raw" else run_engine
        print(json.dumps(runner(args.bootstrap, args.topic, args.group)))
        return
    with broker(args.broker, args.bootstrap) as running:
        print(f"{args.rate} msg/s for {args.seconds} s over {PARTITIONS} partitions"
              f" ({args.broker if not args.bootstrap else args.bootstrap}); {args.runs} runs"
              " each, alternating; milliseconds")
        figures: dict[str, list[dict[str, float]]] = {"raw": [], "engine": []}
        for run in range(1, args.runs + 1):
            for variant, results in figures.items():
                result = one_run(variant, running.bootstrap, args.rate, args.seconds)
                results.append(result)
                print(f"  run {run} {variant:<7} p50 {result['p50']:6.2f}  p99 {result['p99']:6.2f}"
                      f"  ({int(result['count'])} messages)", flush=True)
        medians = {v: {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99")}
                   for v, runs in figures.items()}
        for variant, median in medians.items():
            print(f"median {variant:<7} p50 {median['p50']:6.2f}  p99 {median['p99']:6.2f}")
        print(f"engine - raw: p50 {medians['engine']['p50'] - medians['raw']['p50']:+.2f}"
              f"  p99 {medians['engine']['p99'] - medians['raw']['p99']:+.2f}")


if __name__ == "__main__":
    main()
