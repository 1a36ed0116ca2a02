"""Speed of the testing kit: messages through the harness, and a 100-example ConsumerMachine.

    python bench/harness.py [--messages 200000] [--runs 3] [--examples 100]

1. Throughput: N messages of 100 bytes over 6 partitions are produced into a harness, then
   ``run()`` drives them through the engine's listener, executors and strategies to a trivial
   consumer that reads every payload. The baseline, measured in the same run, is a bare loop
   that hands the same records to the same consumer in batches of ``max_messages`` (no engine):
   the ratio says what the engine's own path costs on the harness. Goal: >= 50 000 msg/s.
2. Property-based run: the wall time of ``--examples`` examples of a ``ConsumerMachine`` over an
   idempotent consumer (a fresh app per example). Goal: under 10 s.

Medians of ``--runs`` runs are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
PARTITIONS, SIZE = 6, 100


class Reader(Consumer):
    """Reads every payload (bytes: no JSON cost in the way)."""

    def consume(self, messages: Messages) -> None:
        for message in messages:
            message.raw_payload  # noqa: B018 - the read is the work


def harness_rate(count: int) -> float:
    app = App(kafka=KAFKA, client_id="bench")
    app.topic("bench", Reader)
    value = b"x" * SIZE
    with Harness(app, partitions={"bench": PARTITIONS}) as kafka:
        for index in range(count):
            kafka.produce("bench", value, partition=index % PARTITIONS)
        started = time.perf_counter()
        kafka.run()
        elapsed = time.perf_counter() - started
        assert len(kafka.history.processed()) == count
    return count / elapsed


def bare_rate(count: int) -> float:
    """The same records to the same consumer, batch by batch, without the engine."""
    app = App(kafka=KAFKA, client_id="bench")
    app.topic("bench", Reader)
    with Harness(app, partitions={"bench": PARTITIONS}) as kafka:
        value = b"x" * SIZE
        for index in range(count):
            kafka.produce("bench", value, partition=index % PARTITIONS)
        records = [kafka._log.records("bench", p) for p in range(PARTITIONS)]
        batch_size = app.settings.max_messages
    consumer = Reader()
    started = time.perf_counter()
    for partition, log in enumerate(records):
        for first in range(0, len(log), batch_size):
            consumer.consume(Messages(log[first:first + batch_size], "bench", partition, 0.0))
    return count / (time.perf_counter() - started)


def careful_app() -> App:
    ledger: dict[Any, int] = {}

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                ledger[(message.partition, message.offset)] = message.payload["amount"]

    app = App(kafka=KAFKA, client_id="orders")
    app.topic("orders", Orders)
    app.ledger = ledger  # type: ignore[attr-defined]
    return app


class OrdersMachine(ConsumerMachine):
    app = careful_app
    topic = "orders"
    partitions = 3
    values = st.fixed_dictionaries({"amount": st.integers(1, 9)})

    def check_at_end(self, kafka: Harness) -> None:
        total = sum(kafka.app.ledger.values())  # type: ignore[attr-defined]
        assert total == sum(m.payload["amount"] for m in kafka.topic("orders"))


def machine_seconds(examples: int) -> float:
    started = time.perf_counter()
    run_state_machine_as_test(OrdersMachine, settings=settings(
        max_examples=examples, deadline=None, database=None))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args()
    engine, bare, machine = [], [], []
    for _ in range(args.runs):  # alternated: each variant sees the same machine states
        engine.append(harness_rate(args.messages))
        bare.append(bare_rate(args.messages))
        machine.append(machine_seconds(args.examples))
    rate, base = statistics.median(engine), statistics.median(bare)
    print(f"harness, {args.messages:,} messages: {rate:,.0f} msg/s (goal >= 50,000)")
    print(f"bare loop, same records and consumer: {base:,.0f} msg/s;"
          f" harness/bare {rate / base:.2f}")
    print(f"ConsumerMachine, {args.examples} examples: {statistics.median(machine):.1f} s"
          f" (goal < 10 s; runs: {', '.join(f'{s:.1f}' for s in machine)})")


if __name__ == "__main__":
    main()
