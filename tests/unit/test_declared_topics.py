"""Declared topics: ``config=`` validation, declare_topic, dead-letter inheritance, filters."""

from __future__ import annotations

import pytest

from engine import App, Consumer, DeadLetterQueue, Messages, RoutingError, Selection
from engine.routing.topic_config import TopicConfig, config_problems


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def new_app() -> App:
    return App(kafka={"bootstrap.servers": "127.0.0.1:9"})


def names(app: App, selection: Selection | None = None) -> list[str]:
    return [topic.name for topic in app.declared_topics(selection)]


def test_a_config_is_kept_as_kafka_stores_it() -> None:
    app = new_app()
    topic = app.topic("orders", Idle, config={
        "partitions": 6, "replication_factor": 3, "retention.ms": 86400000,
        "unclean.leader.election.enable": False, "cleanup.policy": "delete"})
    assert topic.config == TopicConfig(6, 3, {
        "cleanup.policy": "delete", "retention.ms": "86400000",
        "unclean.leader.election.enable": "false"})
    assert topic.config.describe() == (
        "6 partitions, replication factor 3, cleanup.policy=delete, retention.ms=86400000,"
        " unclean.leader.election.enable=false")


def test_every_bad_key_is_named_with_the_topic_and_the_closest_name() -> None:
    with pytest.raises(RoutingError) as caught:
        new_app().topic("orders", Idle, config={
            "partitions": 0, "replication_factor": "3", "retention_ms": 1, "segment.bytes": [1],
            "partitons": 2})
    assert str(caught.value) == (
        "topic 'orders': config 'partitions' must be an integer >= 1 (got 0);"
        " config 'replication_factor' must be an integer >= 1 (got '3');"
        " config 'retention_ms' is not a Kafka topic config (did you mean 'retention.ms'?);"
        " config 'segment.bytes' must be a string, number or bool (got [1]);"
        " config 'partitons' is not a Kafka topic config (did you mean 'partitions'?)")


@pytest.mark.parametrize("config", [[("partitions", 1)], "partitions=1", 3])
def test_a_config_that_is_not_a_mapping_is_refused(config: object) -> None:
    assert config_problems(config) == [
        f"config must be a dict of topic settings (got {config!r})"]


def test_partitions_and_replication_factor_refuse_bools_and_negatives() -> None:
    assert config_problems({"partitions": True, "replication_factor": -1}) == [
        "config 'partitions' must be an integer >= 1 (got True)",
        "config 'replication_factor' must be an integer >= 1 (got -1)"]


def test_only_routes_with_a_config_are_declared_and_a_dlq_inherits_its_source() -> None:
    app = new_app()
    app.topic("orders", Idle, config={"partitions": 6, "replication_factor": 2},
              dead_letter_queue=DeadLetterQueue("orders-dlq"))
    app.topic("clicks", Idle, dead_letter_queue=DeadLetterQueue("clicks-dlq"))
    declared = app.declared_topics()
    assert [(t.name, t.config, t.origin) for t in declared] == [
        ("orders", TopicConfig(6, 2), "routed in consumer group 'engine'"),
        ("orders-dlq", TopicConfig(6, 2), "dead-letter topic of 'orders'"),
    ]


def test_a_dlq_shared_by_two_sources_takes_the_larger_shape() -> None:
    app = new_app()
    app.topic("a", Idle, config={"partitions": 2, "replication_factor": 3},
              dead_letter_queue=DeadLetterQueue("dlq"))
    app.topic("b", Idle, config={"partitions": 8}, dead_letter_queue=DeadLetterQueue("dlq"))
    assert app.declared_topics()[1].config == TopicConfig(8, 3)


def test_a_declared_dlq_keeps_its_own_config() -> None:
    app = new_app()
    app.topic("orders", Idle, config={"partitions": 6},
              dead_letter_queue=DeadLetterQueue("orders-dlq"))
    app.declare_topic("orders-dlq", config={"partitions": 1, "retention.ms": 1000})
    (dlq,) = [t for t in app.declared_topics() if t.name == "orders-dlq"]
    assert (dlq.config, dlq.origin) == (TopicConfig(1, None, {"retention.ms": "1000"}),
                                        "app.declare_topic")


def test_declare_topic_validates_like_a_route() -> None:
    app = new_app()
    app.declare_topic("audit")
    assert app.declared_topics()[0].config == TopicConfig()
    with pytest.raises(RoutingError, match="topic 'audit': declared twice"):
        app.declare_topic("audit")
    with pytest.raises(RoutingError, match=r"topic 'a b': invalid topic name 'a b': .*; config"
                       r" 'x' is not a Kafka topic config"):
        app.declare_topic("a b", config={"x": 1})


def test_one_topic_declared_two_ways_is_refused_naming_both() -> None:
    app = new_app()
    app.topic("orders", Idle, config={"partitions": 6})
    app.consumer_group("audit").topic("orders", Idle, config={"partitions": 3})
    message = ("topic 'orders' is declared twice with different config (routed in consumer"
               " group 'engine': 6 partitions, default replication factor; routed in consumer"
               " group 'audit': 3 partitions, default replication factor); declare it once")
    with pytest.raises(RoutingError) as caught:
        app.declared_topics()
    assert str(caught.value) == message
    with pytest.raises(RoutingError):  # before anything runs
        app.start()


def test_the_same_declaration_in_two_consumer_groups_is_one_topic() -> None:
    app = new_app()
    app.topic("orders", Idle, config={"partitions": 6})
    app.consumer_group("audit").topic("orders", Idle, config={"partitions": 6})
    assert names(app) == ["orders"]


def test_filters_pick_declared_topics_and_their_dlqs() -> None:
    app = new_app()
    app.topic("orders", Idle, config={}, dead_letter_queue=DeadLetterQueue("orders-dlq"))
    app.consumer_group("analytics").topic("clicks", Idle, config={}, active=False)
    app.declare_topic("audit")
    assert names(app) == ["orders", "orders-dlq", "clicks", "audit"]  # inactive ones too
    assert names(app, Selection(topics=("orders",))) == ["orders", "orders-dlq"]
    assert names(app, Selection(topics=("orders-dlq",))) == ["orders-dlq"]
    assert names(app, Selection(topics=("audit",))) == ["audit"]
    assert names(app, Selection(consumer_groups=("analytics",))) == ["clicks"]
    assert names(app, Selection(exclude_topics=("orders-dlq", "audit"))) == ["orders", "clicks"]
    with pytest.raises(RoutingError, match="no topic named 'nope'"):
        app.declared_topics(Selection(topics=("nope",)))
