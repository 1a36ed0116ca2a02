"""The harness's producer and commit faults read as a real broker makes them.

A produce that times out (librdkafka's ``message.timeout.ms`` passing with no broker
answering: a port nothing listens on, so it is certain, where 1 ms against a live broker
sometimes got through) and a commit of a member the group removed (it stopped polling while a second
member took its partition) are made for real; the harness's ``fail_produce(timeout=True)``
and ``lose`` must give the same errors and the same events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from engine import App, Consumer, Messages
from engine.broker import free_port
from engine.connection.commits import Commits
from engine.errors import ProduceError
from engine.testing import Harness
from tests.integration.conftest import DEADLINE, FAST_GROUP, produce

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        for message in messages:
            self.mark_as_consumed(message)


def harness() -> Harness:
    app = App(kafka=KAFKA, client_id="faults")
    app.topic("orders", Idle)
    return Harness(app)


def delivery_errors(app: App) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    app.monitor.subscribe("error.occurred", lambda sender, **event: found.append(event))
    return found


def shape(error: Any) -> tuple[int, str]:
    """A librdkafka error's code and wording (a ``KafkaException`` or a ``KafkaError``)."""
    kafka_error = error.args[0] if isinstance(error, KafkaException) else error
    return kafka_error.code(), kafka_error.str()


def test_a_timed_out_produce_reads_as_librdkafkas(unique: Callable[[str], str]) -> None:
    topic, later = unique("never-asked"), unique("never-asked")
    nobody = f"127.0.0.1:{free_port()}"  # never listened on: no send can be acknowledged
    real = App(kafka={"bootstrap.servers": nobody, "message.timeout.ms": 200, "linger.ms": 0},
               client_id=unique("p"))
    reported = delivery_errors(real)
    with pytest.raises(ProduceError) as broker:
        real.producer.produce(topic, {"n": 1}, sync=True, timeout=30)
    real.producer.produce(later, {"n": 2})
    real.producer.flush(30)
    real.producer.close(5)

    with harness() as kafka:
        simulated = delivery_errors(kafka.app)
        for name in (topic, later):
            kafka.create_topic(name)
        kafka.fail_produce(2, timeout=True)
        with pytest.raises(ProduceError) as harnessed:
            kafka.producer.produce(topic, {"n": 1}, sync=True, timeout=30)
        kafka.producer.produce(later, {"n": 2})
        kafka.producer.flush(1)
        assert kafka.topic(topic) == [] and kafka.topic(later) == []

    assert str(harnessed.value) == str(broker.value)
    assert [(e["type"], e["topic"], shape(e["error"])) for e in simulated] == [
        (e["type"], e["topic"], shape(e["error"])) for e in reported]
    assert [e["type"] for e in reported] == ["producer.delivery.error"]


def removed_member_commits(bootstrap: str, topic: str, group: str) -> list[Any]:
    """A member that stopped polling while another took its partition commits: its errors.

    The synchronous commit's exception, then the asynchronous one's ``on_commit`` error.
    """
    produce(bootstrap, topic, [b"1", b"2"])
    refused: list[Any] = []
    settings = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                **FAST_GROUP, "max.poll.interval.ms": FAST_GROUP["session.timeout.ms"] + 1000}
    first = KafkaConsumer({**settings, "on_commit": lambda error, _: refused.append(error)})
    second = KafkaConsumer(settings)
    try:
        first.subscribe([topic])
        deadline = time.monotonic() + DEADLINE
        while not first.consume(1, 0.5):
            assert time.monotonic() < deadline, "the first member got nothing"
        second.subscribe([topic])
        offsets = [TopicPartition(topic, 0, 1)]
        while True:  # the first member does not poll: the group drops it for the second
            second.consume(1, 0.5)
            try:
                first.commit(offsets=offsets, asynchronous=False)
            except KafkaException as error:
                if shape(error)[0] == KafkaError.UNKNOWN_MEMBER_ID:
                    refused.insert(0, error)
                    break
                # a commit while the group rebalances is refused for that (Apache Kafka says
                # REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION): not yet the removal
            assert time.monotonic() < deadline, "the group never dropped the first member"
        first.commit(offsets=offsets, asynchronous=True)
        while len(refused) < 2:
            first.poll(0.2)
            assert time.monotonic() < deadline, "the asynchronous commit never answered"
    finally:
        first.close()
        second.close()
    return refused


def reported(errors: list[Any]) -> list[tuple[Any, ...]]:
    """The engine's events for a sync failure then an async one (its Commits, as the client)."""
    app = App(kafka=KAFKA, client_id="report")
    events = delivery_errors(app)
    commits = Commits(app.monitor, object(), "sg")
    assert commits.failed(errors[0], sync=True) is False
    commits.on_commit(errors[1], [TopicPartition("orders", 0, 1)])
    assert commits.assignment_lost
    return [(e["type"], e["sync"], shape(e["error"]), e.get("partitions")) for e in events]


def test_a_commit_of_a_lost_partition_is_refused_as_the_broker_refuses_it(
        bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str]) -> None:
    real = removed_member_commits(bootstrap, make_topic(1), unique("g"))
    assert shape(real[0]) == (KafkaError.UNKNOWN_MEMBER_ID,
                              "Commit failed: Broker: Unknown member")

    with harness() as kafka:
        events = delivery_errors(kafka.app)
        kafka.produce("orders", 1)
        kafka.poll()
        kafka.lose("orders", 0)
        consumer = kafka.consumer_for("orders", 0)
        assert consumer is not None and consumer.commit_offsets(sync=True) is False
        assert consumer.is_revoked
        kafka.clock.advance(6)  # librdkafka's own auto-commit, refused as well
        simulated = [(e["type"], e["sync"], shape(e["error"]), e.get("partitions"))
                     for e in events]

    assert simulated == reported(real)
