"""Integration fixtures: a real Kafka-protocol broker, topics, producing, waiting."""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Producer, TopicPartition

from engine import App
from engine.broker import create_topics

DEADLINE = 90.0  # generous: the box has 2 cores and is noisy

pytestmark = pytest.mark.integration


BROKERS = ("tansu", "kafka")


def broker_kind() -> str:
    """Which broker the suite runs against: "tansu" (default), "kafka" or "external"."""
    if os.environ.get("ENGINE_TEST_BOOTSTRAP"):
        return "external"
    kind = os.environ.get("ENGINE_TEST_BROKER", "tansu")
    if kind not in BROKERS:
        raise pytest.UsageError(f"ENGINE_TEST_BROKER must be one of {BROKERS} (got {kind!r})")
    return kind


# Tansu answers a group join after about session.timeout.ms / 2 (measured: 3 s at 6 000, 1 s at
# 2 000), and most tests join at least once: its sessions are kept shortest. Apache Kafka joins
# at once (group.initial.rebalance.delay.ms=0) and refuses sessions below its
# group.min.session.timeout.ms (6 000 by default), which an external cluster may keep.
FAST_GROUP = ({"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}
              if broker_kind() == "tansu" else
              {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
# the same for the apps the tests start as processes of their own (server_app.py, swarm_app.py)
GROUP_ENV = {"SESSION_TIMEOUT_MS": str(FAST_GROUP["session.timeout.ms"]),
             "HEARTBEAT_INTERVAL_MS": str(FAST_GROUP["heartbeat.interval.ms"])}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``kafka_only`` on Tansu (only there), with the marker's reason."""
    kind = broker_kind()
    for item in items:
        marker = item.get_closest_marker("kafka_only")
        if marker is not None and kind == "tansu":
            item.add_marker(pytest.mark.skip(reason=f"Tansu lacks it: {marker.args[0]}"))
        marker = item.get_closest_marker("local_kafka")
        if marker is not None and kind != "kafka":
            item.add_marker(pytest.mark.skip(
                reason=f"needs ENGINE_TEST_BROKER=kafka: {marker.args[0]}"))


@pytest.fixture(scope="session")
def bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """The broker under test: ENGINE_TEST_BOOTSTRAP, Apache Kafka, or the embedded Tansu.

    Tansu is the engine's own ``kafka_broker`` fixture (its pytest plugin), as users get it.
    """
    kind = broker_kind()
    if kind == "external":
        yield os.environ["ENGINE_TEST_BOOTSTRAP"]
    elif kind == "kafka":
        from tests.brokers.kafka import KafkaBroker

        with KafkaBroker() as kafka:
            yield kafka.bootstrap
    else:
        yield request.getfixturevalue("kafka_broker")


_names = itertools.count()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test uses (topics and consumer groups)."""
    run = uuid.uuid4().hex[:6]
    return lambda prefix: f"{prefix}-{run}-{next(_names)}"


@pytest.fixture
def make_topic(bootstrap: str, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a fresh topic with ``partitions`` partitions and return its name."""
    def make(partitions: int = 1, prefix: str = "t") -> str:
        name = unique(prefix)
        create_topics(bootstrap, {name: partitions})
        return name
    return make


def produce(bootstrap: str, topic: str, records: list[tuple[Any, Any]] | list[Any],
            partition: int | None = None) -> dict[int, list[int]]:
    """Send ``(key, value)`` pairs (or plain values); the offsets written per partition."""
    # idempotent: a retried request (a new topic's leader is not always ready for the first
    # one) must not reorder what tests check the order of
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": True})
    written: dict[int, list[int]] = {}
    failures: list[Any] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(error)
        else:
            written.setdefault(message.partition(), []).append(message.offset())

    for record in records:
        key, value = record if isinstance(record, tuple) else (None, record)
        options: dict[str, Any] = {"on_delivery": delivered}
        if partition is not None:
            options["partition"] = partition
        producer.produce(topic, value=value, key=key, **options)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []
    return written


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets a consumer group committed, per partition."""
    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 30)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE,
               message: str = "condition") -> None:
    """Wait for ``condition`` to hold; fail the test with ``message`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.02)


class Recorder:
    """Subscribes to every event of an app and keeps them in order, thread-safe."""

    def __init__(self, app: App) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        for name in app.monitor.events:
            app.monitor.subscribe(name, self._receiver(name))

    def _receiver(self, name: str) -> Callable[..., None]:
        def receive(sender: Any, **event: Any) -> None:
            with self._lock:
                self.events.append((name, event))
        return receive

    def names(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [name for name, _ in self.events if name.startswith(prefix)]

    def of(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [event for event_name, event in self.events if event_name == name]


def make_app(bootstrap: str, group: str, *, fast_group: bool = True, **options: Any) -> App:
    """An app with fast group settings for the test broker (not for KIP-848 groups)."""
    kafka = {"bootstrap.servers": bootstrap, **(FAST_GROUP if fast_group else {}),
             **options.pop("kafka", {})}
    options.setdefault("shutdown_timeout", 30.0)
    return App(kafka=kafka, client_id=group, **options)
