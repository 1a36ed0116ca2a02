"""User code that fails in ordinary ways never loses or stalls a message (real broker).

Each test: a consumer failing the way one bug needed, then every message processed, the
committed offsets at the end, ``stop()`` in time and the error reported.
"""

from __future__ import annotations

import functools
import threading
import time
import typing
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Producer

from engine import App, Consumer, DeadLetterQueue, Messages
from engine.connection import listeners_batch
from engine.connection.client import Client
from engine.connection.listener import Listener
from tests.integration.conftest import (
    FAST_GROUP,
    Recorder,
    committed,
    make_app,
    produce,
    wait_until,
)

COUNT = 30


class Ledger:
    """Offsets processed per partition, thread-safe."""

    def __init__(self) -> None:
        self.offsets: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def add(self, partition: int, offsets: list[int]) -> None:
        with self._lock:
            self.offsets.setdefault(partition, []).extend(offsets)

    def distinct(self, partition: int = 0) -> set[int]:
        with self._lock:
            return set(self.offsets.get(partition, []))


def run_until_done(app: App, ledger: Ledger, count: int = COUNT) -> float:
    """Start, wait until offsets 0..count-1 were processed, stop; the stop's duration."""
    app.start()
    try:
        wait_until(lambda: ledger.distinct() >= set(range(count)), message=f"{count} messages")
    finally:
        started = time.monotonic()
        app.stop()
    return time.monotonic() - started


def errors_of(recorder: Recorder, kind: str) -> list[dict[str, Any]]:
    return [e for e in recorder.of("error.occurred") if e["type"] == kind]


def test_a_consumer_constructor_that_fails_at_first_is_retried_and_loses_nothing(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * COUNT)
    ledger, built = Ledger(), [0]

    class NeedsDatabase(Consumer):
        def __init__(self) -> None:
            built[0] += 1
            if built[0] <= 2:
                raise ConnectionError("database not reachable yet")

        def consume(self, messages: Messages) -> None:
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, pause_timeout=0.1, pause_max_timeout=0.2, max_messages=7)
    recorder = Recorder(app)
    app.topic(topic, NeedsDatabase)
    assert run_until_done(app, ledger) < 30

    assert sorted(ledger.distinct()) == list(range(COUNT))
    failures = errors_of(recorder, "consumer.initialized.error")
    assert [(e["offset"], type(e["error"])) for e in failures] == [(0, ConnectionError)] * 2
    assert [r["offset"] for r in recorder.of("consumer.consuming.retry")] == [0, 0]
    assert committed(bootstrap, group, topic, 1) == {0: COUNT}


class RefusesFirstSeek(Client):
    """The engine's real client, whose first seek librdkafka really refuses.

    A live broker gives no way to make a seek of an assigned partition fail, so the first one
    asks the real consumer for a partition it does not have: librdkafka's own refusal, the
    engine's own handling.
    """

    refused: typing.ClassVar[list[int]] = []  # one list per test: see type() below

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        if not self.refused:
            self.refused.append(offset)
            return super().seek(topic, partition + 1000, offset)
        return super().seek(topic, partition, offset)


def test_a_retry_seek_that_is_refused_is_made_again_and_nothing_is_skipped(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * COUNT)
    ledger, failed = Ledger(), [False]
    client = type("RefusesFirstSeek", (RefusesFirstSeek,), {"refused": []})
    monkeypatch.setattr(listeners_batch, "Listener",
                        functools.partial(Listener, client_factory=client))

    class FailsOnce(Consumer):
        def consume(self, messages: Messages) -> None:
            if not failed[0]:
                failed[0] = True
                raise TimeoutError("the service is slow this once")
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, pause_timeout=0.1, pause_max_timeout=0.2, max_messages=7)
    recorder = Recorder(app)
    app.topic(topic, FailsOnce)
    assert run_until_done(app, ledger) < 30

    assert client.refused == [0]  # the retry's seek back to offset 0 was refused
    refusals = errors_of(recorder, "connection.client.poll.error")
    assert [e["error"].args[0].name() for e in refusals] == ["_STATE"]  # not assigned
    assert ledger.offsets[0] == list(range(COUNT))  # each once, in order: nothing skipped
    assert [e["offset"] for e in errors_of(recorder, "consumer.consume.error")] == [0]
    assert committed(bootstrap, group, topic, 1) == {0: COUNT}


def test_pause_then_raise_retries_the_unprocessed_messages(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * COUNT)
    ledger, failed = Ledger(), [False]

    class PausesThenFails(Consumer):
        def consume(self, messages: Messages) -> None:
            if not failed[0]:
                failed[0] = True
                self.pause(timeout=0.1)  # resume after this batch ...
                raise RuntimeError("... but it was never processed")
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, pause_timeout=0.1, max_messages=10)
    recorder = Recorder(app)
    app.topic(topic, PausesThenFails)
    assert run_until_done(app, ledger) < 30

    assert sorted(ledger.distinct()) == list(range(COUNT))
    assert [r["offset"] for r in recorder.of("consumer.consuming.retry")] == [0]
    assert len(errors_of(recorder, "consumer.consume.error")) == 1
    assert committed(bootstrap, group, topic, 1) == {0: COUNT}


def test_a_base_exception_from_consume_is_a_failure_of_the_batch_not_of_the_worker(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * COUNT)
    ledger, raised = Ledger(), [0]
    thrown: list[type[BaseException]] = [SystemExit, KeyboardInterrupt]

    class Exits(Consumer):
        def consume(self, messages: Messages) -> None:
            if raised[0] < len(thrown):
                raised[0] += 1
                raise thrown[raised[0] - 1]()
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, concurrency=1, pause_timeout=0.1, max_messages=10,
                   shutdown_timeout=20.0)
    recorder = Recorder(app)
    app.topic(topic, Exits)
    assert run_until_done(app, ledger) < 20  # the stop is graceful: no StopTimeout

    assert sorted(ledger.distinct()) == list(range(COUNT))
    errors = errors_of(recorder, "consumer.consume.error")
    assert [type(e["error"]) for e in errors] == thrown
    assert committed(bootstrap, group, topic, 1) == {0: COUNT}


def test_a_partition_in_back_off_that_is_revoked_and_assigned_back_resumes(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * COUNT)
    ledger, failed = Ledger(), [False]

    class FailsOnce(Consumer):
        def consume(self, messages: Messages) -> None:
            if not failed[0]:
                failed[0] = True
                raise RuntimeError("fails once, then backs off for ten minutes")
            ledger.add(self.partition, [m.offset for m in messages])

    # eager assignment: any join or leave revokes everything and assigns it again
    app = make_app(bootstrap, group, pause_timeout=600.0, pause_max_timeout=600.0,
                   kafka={"partition.assignment.strategy": "range"})
    recorder = Recorder(app)
    app.topic(topic, FailsOnce)
    app.start()
    try:
        wait_until(lambda: bool(recorder.of("consumer.consuming.retry")), message="the retry")
        bounce_a_member(bootstrap, group, topic, recorder)
        wait_until(lambda: ledger.distinct() >= set(range(COUNT)), message="all messages")
    finally:
        app.stop()
    assert sorted(ledger.distinct()) == list(range(COUNT))
    assert committed(bootstrap, group, topic, 1) == {0: COUNT}


def bounce_a_member(bootstrap: str, group: str, topic: str, recorder: Recorder) -> None:
    """A second member joins (the group rebalances) and leaves (it rebalances back)."""
    member = KafkaConsumer({
        "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
        "partition.assignment.strategy": "range", **FAST_GROUP,
    })
    revocations = len(recorder.of("rebalance.partitions_revoked"))
    member.subscribe([topic])
    try:
        deadline = time.monotonic() + 60
        while (len(recorder.of("rebalance.partitions_revoked")) == revocations
               and time.monotonic() < deadline):
            member.poll(0.2)
        member.poll(0.5)
    finally:
        member.close()  # leaves the group: the partition comes back to the app
    assert len(recorder.of("rebalance.partitions_revoked")) > revocations


def test_the_dead_letter_queue_names_the_consumer_group(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, dlq, group = make_topic(1), make_topic(1, prefix="dlq"), unique("g")
    produce(bootstrap, topic, [b"{}"] * 3)
    ledger = Ledger()

    class RejectsOne(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.offset == 1:
                    raise ValueError("poison")
                ledger.add(self.partition, [message.offset])
                self.mark_as_consumed(message)

    app = make_app(bootstrap, group, pause_timeout=0.05)
    app.topic(topic, RejectsOne, dead_letter_queue=DeadLetterQueue(dlq, max_retries=1))
    app.start()
    try:
        wait_until(lambda: ledger.distinct() >= {0, 2}, message="the messages around it")
    finally:
        app.stop()
    (dead,) = read_all(bootstrap, dlq, 1, unique("reader"))
    headers = dict(typing.cast(list[tuple[str, bytes]], dead.headers()))
    assert headers["source_consumer_group"] == group.encode()
    assert headers["source_offset"] == b"1"


def read_all(bootstrap: str, topic: str, count: int, group: str) -> list[Any]:
    """Read ``count`` messages of ``topic`` from the start."""
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "auto.offset.reset": "earliest", **FAST_GROUP})
    reader.subscribe([topic])
    found: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            message = reader.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
    finally:
        reader.close()
    return found


def test_a_batch_that_outlasts_max_poll_interval_sees_its_partition_revoked(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * 3)
    ledger, seen = Ledger(), dict[str, bool]()
    # no shorter than the session (librdkafka refuses that); at 2 s on Tansu, 6 s on Kafka
    max_poll_ms = FAST_GROUP["session.timeout.ms"]

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            if not seen:
                seen["at_start"] = self.is_revoked
                time.sleep(max_poll_ms / 1000 + 3.0)  # the work: 3 s longer than max.poll
                seen["revoked"] = self.is_revoked
                seen["marked"] = self.mark_as_consumed(typing.cast(Any, messages.last()))
                seen["committed"] = self.commit_offsets()
                return
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, kafka={"max.poll.interval.ms": max_poll_ms})
    app.topic(topic, Slow)
    assert run_until_done(app, ledger, count=3) < 30  # the new owner got them all again

    assert seen == {"at_start": False, "revoked": True, "marked": False, "committed": False}
    assert committed(bootstrap, group, topic, 1) == {0: 3}


@pytest.mark.kafka_only("transactions (markers leave offset gaps)")
def test_a_transaction_marker_before_a_failing_message_does_not_stall_the_dlq(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, dlq, group = make_topic(1), make_topic(1, prefix="dlq"), unique("g")
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": unique("tx")})
    producer.init_transactions(30)
    for value in (b'"ok"', b'"poison"', b'"ok"'):  # offsets 0, 2, 4: a marker after each
        producer.begin_transaction()
        producer.produce(topic, value)
        producer.commit_transaction(30)
    ledger = Ledger()

    class MarksEach(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.payload == "poison":
                    raise ValueError(f"poison at {message.offset}")
                ledger.add(self.partition, [message.offset])
                self.mark_as_consumed(message)

    app = make_app(bootstrap, group, pause_timeout=0.05)
    recorder = Recorder(app)
    app.topic(topic, MarksEach, dead_letter_queue=DeadLetterQueue(dlq, max_retries=1))
    app.start()
    try:
        wait_until(lambda: ledger.distinct() >= {0, 4}, message="the messages around it")
    finally:
        app.stop()
    recorder_offsets = [e["offset"] for e in errors_of(recorder, "consumer.consume.error")]
    assert recorder_offsets == [2, 2]  # the poison's offset, never a marker's
    assert [e["offset"] for e in recorder.of("dead_letter_queue.dispatched")] == [2]
    assert committed(bootstrap, group, topic, 1) == {0: 5}  # after the last message


def test_produce_sync_on_a_busy_producer_waits_its_whole_timeout(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, out, group = make_topic(1), make_topic(50, prefix="out"), unique("g")
    produce(bootstrap, topic, [b"{}"])
    ledger, busy = Ledger(), 20_000

    class Fans(Consumer):
        def consume(self, messages: Messages) -> None:
            for index in range(busy):  # 50 partitions: hundreds of delivery reports come first
                self.produce(out, b"x" * 200, partition=index % 50)
            # each report ends a poll early; the old wait counted 0.05 s per poll, so a 5 s
            # send gave up after 100 of them (about 0.05 s of real time here)
            self.produce_sync(out, b"last", partition=0, timeout=5.0)
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group)
    recorder = Recorder(app)
    app.topic(topic, Fans)
    assert run_until_done(app, ledger, count=1) < 30
    assert errors_of(recorder, "consumer.consume.error") == []
    assert len(read_all(bootstrap, out, busy + 1, unique("reader"))) == busy + 1


@pytest.mark.kafka_only("Tansu creates a missing topic on produce; Kafka here does not")
def test_what_async_produce_could_not_deliver_by_the_stop_is_reported_with_its_count(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"])
    ledger = Ledger()

    class ProducesNowhere(Consumer):
        def consume(self, messages: Messages) -> None:
            for _ in range(3):
                self.produce(unique("missing"), b"x")  # waits for a topic that never comes
            ledger.add(self.partition, [m.offset for m in messages])

    app = make_app(bootstrap, group, shutdown_timeout=8.0)
    recorder = Recorder(app)
    app.topic(topic, ProducesNowhere)
    run_until_done(app, ledger, count=1)  # a graceful stop: no StopTimeout
    undelivered = errors_of(recorder, "producer.delivery.error")
    assert [e["count"] for e in undelivered][:1] == [3]
    assert committed(bootstrap, group, topic, 1) == {0: 1}
