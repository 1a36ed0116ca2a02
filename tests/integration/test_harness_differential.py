"""The harness is the same engine: scenarios run on it and on a real broker must agree.

Batch boundaries may differ between the two (a broker hands out what it fetched); so each
scenario's consumer marks message by message, and what is compared does not depend on them:
the offsets the consumer saw in order, the attempts at which it failed, the retry back-offs,
the dead-letter queue, the error types and the committed offset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Producer

from engine import App, Consumer, DeadLetterQueue, Messages
from engine.broker import create_topics
from engine.testing import Harness
from engine.testing.partitioner import partition_for_key
from tests.integration.conftest import (
    FAST_GROUP,
    Recorder,
    committed,
    make_app,
    produce,
    wait_until,
)

COUNT = 10


@dataclass
class Trace:
    """What one run's consumer did."""

    seen: list[int] = field(default_factory=list)
    failures: list[tuple[int, int]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    state: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


Behaviour = Callable[[Consumer, Any, Trace], str]
"""Per message: "ok" (mark it), "fail" (raise), "skip" (do not mark), "stop" (end the batch)."""


def plain(consumer: Consumer, message: Any, trace: Trace) -> str:
    return "ok"


def fails_twice_at_3(consumer: Consumer, message: Any, trace: Trace) -> str:
    return "fail" if message.offset == 3 and consumer.attempt < 3 else "ok"


def always_fails_at_2(consumer: Consumer, message: Any, trace: Trace) -> str:
    return "fail" if message.offset == 2 else "ok"


def seeks_back_once(consumer: Consumer, message: Any, trace: Trace) -> str:
    if message.offset == 4 and not trace.state.get("sought"):
        trace.state["sought"] = True
        consumer.seek(1)
        consumer.pause(offset=1, timeout=0.1)
        return "stop"
    return "ok"


def marks_even_only(consumer: Consumer, message: Any, trace: Trace) -> str:
    return "ok" if message.offset % 2 == 0 else "skip"


def reads_payloads(consumer: Consumer, message: Any, trace: Trace) -> str:
    message.payload  # noqa: B018 - a malformed payload raises here
    return "ok"


SCENARIOS: dict[str, tuple[Behaviour, dict[str, Any]]] = {
    "plain consumption": (plain, {}),
    "retries with growing back-off": (fails_twice_at_3, {}),
    "dead-letter queue after max_retries": (
        always_fails_at_2, {"dead_letter_queue": DeadLetterQueue("{topic}.dlq", max_retries=2)}),
    "manual pause and seek": (seeks_back_once, {}),
    "manual offset management": (marks_even_only, {"manual_offset_management": True}),
    "a deserialization failure": (
        reads_payloads, {"dead_letter_queue": DeadLetterQueue("{topic}.dlq", max_retries=1)}),
}


def payloads(name: str) -> list[bytes]:
    values = [f'{{"n": {i}}}'.encode() for i in range(COUNT)]
    if name == "a deserialization failure":
        values[5] = b"{not json"
    return values


def build(bootstrap: str, group: str, topic: str, name: str, trace: Trace) -> App:
    behaviour, options = SCENARIOS[name]
    options = {key: (DeadLetterQueue(value.topic.format(topic=topic), value.max_retries)
                     if isinstance(value, DeadLetterQueue) else value)
               for key, value in options.items()}

    class Scripted(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                with trace.lock:
                    trace.seen.append(message.offset)
                try:
                    verdict = behaviour(self, message, trace)
                except Exception:
                    trace.failures.append((message.offset, self.attempt))
                    raise
                if verdict == "fail":
                    trace.failures.append((message.offset, self.attempt))
                    raise RuntimeError(f"scripted failure at {message.offset}")
                if verdict == "stop":
                    return
                if verdict == "ok":
                    self.mark_as_consumed(message)
                if message.offset == COUNT - 1:
                    trace.done.set()

    app = make_app(bootstrap, group, pause_timeout=0.05, pause_max_timeout=0.2,
                   max_wait_time=0.5)
    app.topic(topic, Scripted, **options)
    return app


def outcome(trace: Trace, events: list[tuple[str, dict[str, Any]]],
            committed_offset: int | None, dead: list[int]) -> dict[str, Any]:
    return {
        "seen": trace.seen,
        "failures": trace.failures,
        "retry back-offs": [e["timeout"] for name, e in events
                            if name == "consumer.consuming.retry"],
        "error types": [e["type"] for name, e in events if name == "error.occurred"],
        "dead-lettered offsets": dead,
        "committed": committed_offset,
    }


def on_harness(bootstrap: str, name: str) -> dict[str, Any]:
    trace = Trace()
    app = build(bootstrap, "harness", "orders", name, trace)
    with Harness(app) as kafka:
        for value in payloads(name):
            kafka.produce("orders", value)
        kafka.run()
        kafka.stop()
        events = [(event.name, event.payload) for event in kafka.events]
        dead = ([int(m.headers["source_offset"] or b"-1") for m in kafka.topic("orders.dlq")]
                if "dead_letter_queue" in SCENARIOS[name][1] else [])
        return outcome(trace, events, kafka.committed("orders", 0), dead)


def on_broker(bootstrap: str, topic: str, group: str, name: str) -> dict[str, Any]:
    trace = Trace()
    app = build(bootstrap, group, topic, name, trace)
    recorder = Recorder(app)
    dead: list[int] = []
    app.monitor.subscribe("dead_letter_queue.dispatched",
                          lambda sender, **event: dead.append(event["offset"]))
    if "dead_letter_queue" in SCENARIOS[name][1]:
        create_topics(bootstrap, {f"{topic}.dlq": 1})
    produce(bootstrap, topic, payloads(name), partition=0)
    app.start()
    try:
        wait_until(trace.done.is_set, message=f"{name}: the last message processed")
    finally:
        app.stop()
    return outcome(trace, recorder.events, committed(bootstrap, group, topic, 1)[0], dead)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_harness_agrees_with_a_real_broker(
    name: str, bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    real = on_broker(bootstrap, make_topic(1), unique("g"), name)
    simulated = on_harness(bootstrap, name)
    assert simulated == real


class Revocable(Consumer):
    """Records batches and revocations into the class's trace."""

    trace: Trace

    def consume(self, messages: Messages) -> None:
        for message in messages:
            self.trace.seen.append(message.offset)
            if message.offset == COUNT - 1:
                self.trace.done.set()

    def revoked(self) -> None:
        self.trace.state.setdefault("revoked", []).append((self.partition, self.is_revoked))


def revocable_app(bootstrap: str, group: str, topic: str, trace: Trace) -> App:
    app = make_app(bootstrap, group)
    app.topic(topic, type("Traced", (Revocable,), {"trace": trace}))
    return app


def test_a_revocation_agrees_with_a_real_group_rebalance(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    from confluent_kafka import Consumer as KafkaConsumer

    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, payloads("plain consumption"), partition=0)
    real = Trace()
    app = revocable_app(bootstrap, group, topic, real)
    app.start()
    joiner = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "enable.auto.commit": False, **FAST_GROUP})
    try:
        wait_until(real.done.is_set, message="every message processed")
        joiner.subscribe([topic])  # a second member: the group takes the partition away
        wait_until(lambda: (joiner.poll(0.1), bool(real.state.get("revoked")))[1],
                   message="the app's partition revoked by the rebalance")
        real_committed = committed(bootstrap, group, topic, 1)[0]
    finally:
        joiner.close()
        app.stop()

    simulated = Trace()
    with Harness(revocable_app(bootstrap, "harness", "orders", simulated)) as kafka:
        for value in payloads("plain consumption"):
            kafka.produce("orders", value)
        kafka.run()
        kafka.revoke("orders", 0)
        simulated_committed = kafka.committed("orders", 0)
    assert (simulated.seen, simulated.state["revoked"][:1], simulated_committed) == (
        real.seen, real.state["revoked"][:1], real_committed)
    assert real.state["revoked"][0] == (0, True)


def test_keys_land_where_a_real_producer_puts_them(
    bootstrap: str, make_topic: Callable[..., str],
) -> None:
    topic, partitions = make_topic(7), 7
    keys = [f"customer-{i}" for i in range(40)] + ["a", "ü", "x" * 100]
    producer = Producer({"bootstrap.servers": bootstrap})  # librdkafka's default partitioner
    placed: dict[str, int] = {}

    def delivered(error: Any, message: Any) -> None:
        assert error is None
        placed[message.key().decode()] = message.partition()

    for key in keys:
        producer.produce(topic, b"1", key=key.encode(), on_delivery=delivered)
    assert producer.flush(30) == 0
    assert placed == {key: partition_for_key(key.encode(), partitions) for key in keys}


def test_auto_commit_runs_in_the_background_as_on_a_real_broker(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    def app_of(group: str, topic: str, trace: Trace) -> App:
        app = make_app(bootstrap, group, kafka={"auto.commit.interval.ms": 200})
        app.topic(topic, type("Traced", (Revocable,), {"trace": trace}))
        return app

    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, payloads("plain consumption"), partition=0)
    real = Trace()
    app = app_of(group, topic, real)
    app.start()
    try:
        wait_until(real.done.is_set, message="every message processed")
        wait_until(lambda: committed(bootstrap, group, topic, 1)[0] == COUNT,
                   message="the background auto-commit, with no stop")
    finally:
        app.stop()

    simulated = Trace()
    with Harness(app_of("harness", "orders", simulated)) as kafka:
        for value in payloads("plain consumption"):
            kafka.produce("orders", value)
        kafka.run()
        kafka.clock.advance(0.2)  # one interval: committed with no poll, as librdkafka does
        assert kafka.committed("orders", 0) == COUNT
    assert simulated.seen == real.seen
