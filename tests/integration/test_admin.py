"""``engine.admin`` and ``engine topics`` on a real broker: declared topics, lag, seek_group."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)

from engine import AdminError, App, Consumer, DeadLetterQueue, Messages, admin
from engine.admin import AddPartitions, CreateTopic, SetConfig
from engine.broker import create_topics
from engine.cli.main import main
from engine.routing.topic_config import KAFKA_TOPIC_CONFIGS
from tests.integration.conftest import FAST_GROUP, broker_kind, make_app, wait_until

DAY, WEEK = "86400000", "604800000"


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def declaring(bootstrap: str, unique: Callable[[str], str], **config: Any) -> tuple[App, str]:
    """An app declaring one routed topic (with a DLQ) and one produced-to topic."""
    app = make_app(bootstrap, unique("g"))
    name = unique("orders")
    app.topic(name, Idle, config={"partitions": 3, "retention.ms": DAY, **config},
              dead_letter_queue=DeadLetterQueue(name + "-dlq"))
    app.declare_topic(name + "-audit", config={"partitions": 2, "cleanup.policy": "compact"})
    return app, name


def alter(bootstrap: str, topic: str, key: str, value: str) -> None:
    client = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource("topic", topic, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
    client.incremental_alter_configs([resource])[resource].result(30)
    # Kafka applies an altered config a moment after acknowledging it: wait until it shows
    described = ConfigResource("topic", topic)
    wait_until(lambda: client.describe_configs([described])[described].result(30)[key].value
               == value, message=f"{topic}: {key} never described as {value}")


def test_plan_on_an_empty_cluster_then_migrate_then_plan_says_nothing_to_do(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    app, name = declaring(bootstrap, unique)
    first = admin.plan(app)
    assert [str(change) for change in first.changes] == [
        f"{name}: create (3 partitions, default replication factor, retention.ms={DAY})",
        f"{name}-dlq: create (3 partitions, default replication factor)",
        f"{name}-audit: create (2 partitions, default replication factor,"
        " cleanup.policy=compact)",
    ]
    assert admin.plan(app) == first  # a plan changes nothing
    done = admin.migrate(app)
    assert [type(change) for change in done] == [CreateTopic] * 3
    again = admin.plan(app)
    assert again.nothing_to_do, again.lines()
    assert again.lines() == ["nothing to do: 3 declared topic(s) match the cluster"]
    info = admin.topic_info(app, name)
    assert (info.partitions, info.configs["retention.ms"]) == (3, DAY)
    assert admin.topic_info(app, name + "-dlq").partitions == 3  # inherited from its source
    assert admin.migrate(app) == ()


def test_config_drift_is_planned_and_aligned(bootstrap: str, unique: Callable[[str], str]) -> None:
    app, name = declaring(bootstrap, unique)
    admin.create(app)
    alter(bootstrap, name, "retention.ms", WEEK)
    plan = admin.plan(app)
    assert plan.changes == (SetConfig(name, "retention.ms", WEEK, DAY),)
    assert plan.lines() == [f"{name}: retention.ms {WEEK} -> {DAY}"]
    assert admin.align(app) == plan.changes
    assert admin.plan(app).nothing_to_do
    assert admin.topic_info(app, name).configs["retention.ms"] == DAY


def test_delete_needs_yes(
    bootstrap: str, unique: Callable[[str], str], tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("doomed")
    target = tmp_path / "doomed_app.py"
    target.write_text(
        "from engine import App, Consumer\n"
        "class Idle(Consumer):\n    def consume(self, messages):\n        pass\n"
        f"app = App(kafka={{'bootstrap.servers': {bootstrap!r}}})\n"
        f"app.topic({name!r}, Idle, config={{'partitions': 2}})\n")
    assert main(["topics", "create", str(target)]) == 0
    capsys.readouterr()
    assert main(["topics", "delete", str(target)]) == 1
    out, err = capsys.readouterr()
    assert f"{name}: would delete" in out and "pass --yes" in err
    app = App(kafka={"bootstrap.servers": bootstrap})
    assert admin.topic_info(app, name).partitions == 2  # still there
    assert main(["topics", "delete", str(target), "--yes"]) == 0
    assert f"done: {name}: delete" in capsys.readouterr().out
    wait_until(lambda: _absent(app, name), message=f"{name} gone")
    assert main(["topics", "plan", str(target)]) == 0
    assert f"{name}: create (2 partitions" in capsys.readouterr().out


def _absent(app: App, name: str) -> bool:
    try:
        admin.topic_info(app, name)
    except AdminError:
        return True
    return False


def test_a_replication_factor_above_the_broker_count_is_one_problem_with_a_hint(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    app, name = declaring(bootstrap, unique, replication_factor=3)
    with pytest.raises(AdminError) as caught:
        admin.migrate(app)
    assert caught.value.problems[0] == (
        f"{name}: replication factor 3 is above the 1 broker(s) the cluster has (hint: lower"
        " replication_factor in config=, or add brokers)")
    # the audit topic has no such problem: it was created all the same
    assert [change.topic.name for change in caught.value.done] == [name + "-audit"]


@pytest.mark.kafka_only("CreatePartitions (Tansu 0.6 answers UNSUPPORTED_FEATURE)")
def test_repartition_adds_partitions_and_never_removes_any(
    bootstrap: str, unique: Callable[[str], str], capsys: pytest.CaptureFixture[str],
) -> None:
    grown, shrunk = unique("grown"), unique("shrunk")
    create_topics(bootstrap, {grown: 2, shrunk: 4})
    app = make_app(bootstrap, unique("g"))
    app.topic(grown, Idle, config={"partitions": 5})
    app.declare_topic(shrunk, config={"partitions": 2})
    plan = admin.plan(app)
    assert plan.changes == (AddPartitions(grown, 2, 5),)
    assert plan.notices == (
        f"{shrunk}: has 4 partitions, declares 2 (partitions are never removed)",)
    assert admin.repartition(app) == plan.changes
    assert admin.topic_info(app, grown).partitions == 5
    assert admin.topic_info(app, shrunk).partitions == 4
    assert admin.plan(app).nothing_to_do


@pytest.mark.skipif(broker_kind() != "tansu", reason="only Tansu refuses CreatePartitions")
def test_repartition_on_a_broker_without_create_partitions_is_a_problem_with_a_hint(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    name = unique("fixed")
    create_topics(bootstrap, {name: 2})
    app = make_app(bootstrap, unique("g"))
    app.topic(name, Idle, config={"partitions": 5})
    with pytest.raises(AdminError) as caught:
        admin.repartition(app)
    (line,) = caught.value.problems
    assert line.startswith(f"{name}: adding partitions failed:") and "CreatePartitions" in line
    assert "(hint: this broker cannot do it" in line


@pytest.mark.kafka_only("Tansu describes a topic's set configs only, not Kafka's full list")
def test_the_known_topic_configs_are_what_apache_kafka_describes(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    name = unique("configs")
    create_topics(bootstrap, {name: 1})
    app = App(kafka={"bootstrap.servers": bootstrap})
    assert set(admin.topic_info(app, name).configs) <= KAFKA_TOPIC_CONFIGS
    client = AdminClient({"bootstrap.servers": bootstrap})
    described = client.describe_configs([ConfigResource("topic", name)])
    (entries,) = [future.result(30) for future in described.values()]
    assert set(entries) == KAFKA_TOPIC_CONFIGS


def produce_one_by_one(bootstrap: str, topic: str, count: int, partition: int = 0,
                       timestamp: int | None = None) -> None:
    """One record per request: Tansu's high watermark is right only for one-record batches."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(count):
        options = {} if timestamp is None else {"timestamp": timestamp}
        producer.produce(topic, value=b"%d" % index, partition=partition, **options)
        assert producer.flush(30) == 0


def commit_at(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_lag_per_group_topic_and_partition(bootstrap: str, unique: Callable[[str], str]) -> None:
    group, topic = unique("g"), unique("lagging")
    create_topics(bootstrap, {topic: 2})
    produce_one_by_one(bootstrap, topic, 10)
    produce_one_by_one(bootstrap, topic, 3, partition=1)
    app = make_app(bootstrap, group)
    app.topic(topic, Idle)
    commit_at(bootstrap, group, topic, 4)  # the group consumed 4 of partition 0
    assert admin.lag(app) == (
        admin.PartitionLag(group, topic, 0, committed=4, high_watermark=10, lag=6),
        admin.PartitionLag(group, topic, 1, committed=None, high_watermark=3, lag=3),
    )


class Seen(Consumer):
    offsets: list[int]

    def consume(self, messages: Messages) -> None:
        self.offsets.extend(message.offset for message in messages)


def first_offsets_consumed(bootstrap: str, group: str, topic: str, count: int) -> list[int]:
    consumer = type("Seen", (Seen,), {"offsets": []})
    app = make_app(bootstrap, group)
    app.topic(topic, consumer)
    app.start()
    try:
        wait_until(lambda: len(consumer.offsets) >= count, message=f"{count} messages")
    finally:
        app.stop()
    return list(consumer.offsets)


def test_seek_group_then_a_consumer_starts_from_there(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    group, topic = unique("g"), unique("replayed")
    create_topics(bootstrap, {topic: 1})
    produce_one_by_one(bootstrap, topic, 10)
    app = make_app(bootstrap, group)
    app.topic(topic, Idle)
    assert admin.seek_group(app, group, topic, {0: 7}) == {0: 7}
    assert first_offsets_consumed(bootstrap, group, topic, 3) == [7, 8, 9]


def test_seek_group_is_refused_while_the_group_has_a_running_member(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    group, topic = unique("g"), unique("busy")
    create_topics(bootstrap, {topic: 1})
    member = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group, **FAST_GROUP})
    assigned = threading.Event()
    member.subscribe([topic], on_assign=lambda *_: assigned.set())
    try:
        wait_until(lambda: member.poll(0.2) is None and assigned.is_set(), message="assigned")
        app = make_app(bootstrap, group)
        app.topic(topic, Idle)
        with pytest.raises(AdminError, match=rf"consumer group '{group}' is active .* stop"
                           " its consumers first"):
            admin.seek_group(app, group, topic, {0: 0})
    finally:
        member.close()


def test_seek_group_refuses_a_group_the_app_does_not_have(
    bootstrap: str, unique: Callable[[str], str],
) -> None:
    app = make_app(bootstrap, unique("g"))
    app.topic(unique("t"), Idle)
    with pytest.raises(AdminError, match="no consumer group 'other' in this app"):
        admin.seek_group(app, "other", "t", {0: 0})


@pytest.mark.kafka_only("offsets_for_times (Tansu answers 0 for every lookup)")
def test_seek_group_to_a_time(bootstrap: str, unique: Callable[[str], str]) -> None:
    group, topic = unique("g"), unique("timed")
    create_topics(bootstrap, {topic: 1})
    start = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    produce_one_by_one(bootstrap, topic, 5, timestamp=start)
    produce_one_by_one(bootstrap, topic, 5, timestamp=start + 60_000)
    app = make_app(bootstrap, group)
    app.topic(topic, Idle)
    moment = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    assert admin.seek_group(app, group, topic, moment) == {0: 5}
    assert first_offsets_consumed(bootstrap, group, topic, 5) == [5, 6, 7, 8, 9]
