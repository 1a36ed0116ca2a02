"""What Tansu cannot answer (time seeks, KIP-848, restarts), and lag, checked on both.

Lag runs on Tansu too: librdkafka and the engine read the high watermark from fetch
responses, which Tansu gets right (its ListOffsets answer is what is wrong).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from engine import App, Consumer, Messages
from engine.broker import create_topics
from tests.integration.conftest import Recorder, make_app, produce, wait_until


def partition_lag(event: dict[str, Any], topic: str, partition: int) -> int | None:
    partitions = event["statistics"].get("topics", {}).get(topic, {}).get("partitions", {})
    lag = partitions.get(str(partition), {}).get("consumer_lag_stored")  # stored per batch
    return None if lag is None or lag < 0 else int(lag)


def test_lag_from_high_watermarks_in_statistics_and_in_the_consumer(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(1)
    produce(bootstrap, topic, [b"{}"] * 100)
    lags: list[int | None] = []

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            lags.append(self.lag)
            time.sleep(0.05)  # work: statistics arrive with the polls between batches

    app = make_app(bootstrap, unique("g"), max_messages=5,
                   kafka={"statistics.interval.ms": 50})
    recorder = Recorder(app)
    app.topic(topic, Slow)
    app.start()
    try:
        wait_until(lambda: len(lags) == 20, message="20 batches of 5")
        wait_until(lambda: any(partition_lag(e, topic, 0) == 0
                               for e in recorder.of("statistics.emitted")[-3:]),
                   message="statistics to report no lag")
    finally:
        app.stop()
    reported = [partition_lag(e, topic, 0) for e in recorder.of("statistics.emitted")]
    assert max(lag for lag in reported if lag is not None) >= 50  # the backlog was seen
    assert lags == [100 - 5 * batch for batch in range(1, 21)]  # 95, 90, ... 0


@pytest.mark.kafka_only("offsets_for_times answers 0 for every timestamp")
def test_seek_to_a_datetime(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, base = make_topic(1), 1_700_000_000_000
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(10):
        producer.produce(topic, b"{}", timestamp=base + index * 1000)
    assert producer.flush(30) == 0
    batches: list[list[int]] = []

    class TimeTraveller(Consumer):
        def consume(self, messages: Messages) -> None:
            batches.append([m.offset for m in messages])
            if len(batches) == 1:
                self.seek(datetime.fromtimestamp((base + 6500) / 1000, tz=timezone.utc))

    app = make_app(bootstrap, unique("g"))
    app.topic(topic, TimeTraveller)
    app.start()
    try:
        wait_until(lambda: len(batches) >= 2, message="the batch after the seek")
    finally:
        app.stop()
    assert batches[0] == list(range(10))
    assert batches[1] == [7, 8, 9]  # the first message at or after base + 6.5 s


PROTOCOLS = [
    pytest.param({"partition.assignment.strategy": "cooperative-sticky"}, True,
                 id="cooperative-sticky"),
    pytest.param({"group.protocol": "consumer"}, False, id="kip-848",
                 marks=pytest.mark.kafka_only("KIP-848 (no ConsumerGroupHeartbeat)")),
]


@pytest.mark.parametrize(("protocol", "fast_group"), PROTOCOLS)
def test_three_members_join_and_leave_while_messages_flow(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    protocol: dict[str, str], fast_group: bool,
) -> None:
    topic, group, total = make_topic(6), unique("g"), 3000
    # (member, consumer instance, partition) -> offsets. An instance lives for one ownership
    # of a partition: order must hold within it. A member that gets a partition back may
    # re-read from an older commit (at-least-once), so across ownerships it need not.
    seen: dict[tuple[int, int, int], list[int]] = {}
    lock = threading.Lock()
    instances = itertools.count()

    def member(number: int) -> App:
        class Track(Consumer):
            def initialized(self) -> None:
                self.instance = next(instances)

            def consume(self, messages: Messages) -> None:
                with lock:
                    seen.setdefault((number, self.instance, self.partition), []).extend(
                        m.offset for m in messages)
                time.sleep(0.002 * len(messages))  # slow enough that rebalances land mid-stream

        app = make_app(bootstrap, group, fast_group=fast_group, kafka=protocol, max_messages=50)
        app.topic(topic, Track)
        return app

    written: dict[int, list[int]] = {}
    flowing = threading.Event()
    flowing.set()
    producing = threading.Thread(target=produce_while, args=(bootstrap, topic, flowing, written))
    producing.start()
    members = [member(n) for n in range(3)]
    try:
        members[0].start()
        wait_until(lambda: bool(seen), message="the first member consuming")
        members[1].start()
        members[2].start()
        wait_until(lambda: {m for m, _, _ in seen} == {0, 1, 2}, message="all three consuming")
        members[0].stop()
        members[1].stop()
    finally:
        flowing.clear()
        producing.join(120)
    assert sum(map(len, written.values())) >= total
    expected = {(p, o) for p, offsets in written.items() for o in offsets}
    wait_until(lambda: {(p, o) for (_, _, p), offs in list(seen.items()) for o in offs}
               >= expected,
               message="every message processed at least once")
    members[2].stop()
    for offsets in seen.values():
        assert offsets == sorted(set(offsets))  # in order, no repeats, within one ownership


def produce_while(bootstrap: str, topic: str, flowing: threading.Event,
                  written: dict[int, list[int]]) -> None:
    """A steady flow of keyed messages until ``flowing`` is cleared (and at least 3000)."""
    start = 0
    while flowing.is_set() or start < 3000:
        batch = produce(bootstrap, topic, [(str(i).encode(), b"{}")
                                           for i in range(start, start + 100)])
        for partition, offsets in batch.items():
            written.setdefault(partition, []).extend(offsets)
        start += 100
        time.sleep(0.05)  # a steady flow for the rebalances to happen in


@pytest.mark.local_kafka("restarts the broker with a persistent log dir")
def test_the_engine_survives_a_broker_restart_mid_stream(
    tmp_path: Path, unique: Callable[[str], str],
) -> None:
    from tests.brokers.kafka import KafkaBroker

    broker = KafkaBroker(log_dir=tmp_path / "kafka-data").start()
    try:
        topic, group = unique("t"), unique("g")
        create_topics(broker.bootstrap, {topic: 2})
        first = produce(broker.bootstrap, topic, [b"{}"] * 200)
        seen: set[tuple[int, int]] = set()

        class Collect(Consumer):
            def consume(self, messages: Messages) -> None:
                seen.update((m.partition, m.offset) for m in messages)

        app = make_app(broker.bootstrap, group)
        recorder = Recorder(app)
        app.topic(topic, Collect)
        app.start()
        wait_until(lambda: len(seen) >= 200, message="the first 200")
        broker.stop()
        wait_until(lambda: any(e["type"] == "librdkafka.error"
                               for e in recorder.of("error.occurred")),
                   message="the outage to be reported")
        broker.start()
        second = produce(broker.bootstrap, topic, [b"{}"] * 200)
        expected = {(p, o) for batch in (first, second) for p, offs in batch.items()
                    for o in offs}
        wait_until(lambda: seen >= expected, message="everything after the restart")
        assert app.state == "running"
        app.stop()
        assert app.state == "terminated"
    finally:
        broker.cleanup()
