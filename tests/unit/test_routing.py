from __future__ import annotations

import pytest

from engine import App, Consumer, DeadLetterQueue, RoutingError, Selection
from tests.conftest import BOOTSTRAP, NoopConsumer, OtherConsumer


def ids(app: App, selection: Selection | None = None) -> list[tuple[str, tuple[str, ...]]]:
    return [(g.id, g.topic_names) for g in app.subscription_groups(selection)]


def test_topics_with_equal_settings_share_a_subscription_group(app: App) -> None:
    app.topic("orders", NoopConsumer)
    app.topic("payments", OtherConsumer, max_messages=500)  # equal to the inherited value
    app.topic("clicks", NoopConsumer, max_wait_time=0.5)
    assert ids(app) == [
        ("engine/default", ("orders", "payments")),
        ("engine/default-" + app.subscription_groups()[1].name[-8:], ("clicks",)),
    ]


def test_explicit_subscription_groups_and_consumer_groups_separate_topics(app: App) -> None:
    app.topic("orders", NoopConsumer)
    app.subscription_group("heavy").topic("images", NoopConsumer)
    analytics = app.consumer_group("analytics")
    analytics.topic("orders", NoopConsumer)
    analytics.subscription_group("heavy").topic("videos", NoopConsumer)
    assert ids(app) == [
        ("engine/default", ("orders",)),
        ("engine/heavy", ("images",)),
        ("analytics/default", ("orders",)),
        ("analytics/heavy", ("videos",)),
    ]


def test_consumer_group_reopens_by_name(app: App) -> None:
    app.consumer_group("g").topic("a", NoopConsumer)
    app.consumer_group("g").topic("b", NoopConsumer)
    assert ids(app) == [("g/default", ("a", "b"))]


def test_subscription_group_carries_effective_settings(app: App) -> None:
    app.topic("t", NoopConsumer, initial_offset="latest", kafka={"fetch.min.bytes": 10},
              max_messages=7, max_wait_time=2)
    (group,) = app.subscription_groups()
    assert (group.max_messages, group.max_wait_time, group.initial_offset) == (7, 2.0, "latest")
    assert group.kafka["group.id"] == "engine"
    assert group.kafka["auto.offset.reset"] == "latest"
    assert group.kafka["fetch.min.bytes"] == 10
    assert group.kafka["bootstrap.servers"] == BOOTSTRAP["bootstrap.servers"]
    assert group.topic("t").consumer_class is NoopConsumer


def test_client_id_names_the_default_consumer_group() -> None:
    app = App(kafka=BOOTSTRAP, client_id="orders-service")
    app.topic("orders", NoopConsumer)
    assert app.subscription_groups()[0].consumer_group == "orders-service"


def test_inactive_topics_do_not_run_and_do_not_rename_groups(app: App) -> None:
    app.topic("a", NoopConsumer, active=False)
    app.topic("b", NoopConsumer, max_messages=3)
    app.topic("c", NoopConsumer)
    first, second = app.subscription_groups()
    assert (first.id, first.topic_names) == ("engine/default", ("c",))
    assert second.name.startswith("default-")
    assert second.topic_names == ("b",)


def test_duplicate_topic_in_one_consumer_group(app: App) -> None:
    app.topic("orders", NoopConsumer)
    with pytest.raises(RoutingError, match="topic 'orders' is routed twice in consumer group"):
        app.subscription_group("other").topic("orders", NoopConsumer)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "invalid topic name ''"),
        ("a b", "invalid topic name 'a b'"),
        ("x" * 250, "invalid topic name 'xxx"),
        (".", "topic name '.' is reserved"),
        ("..", "topic name '..' is reserved"),
        ("ok/no", "invalid topic name 'ok/no'"),
    ],
)
def test_invalid_topic_names(app: App, name: str, message: str) -> None:
    with pytest.raises(RoutingError, match=message.replace(".", r"\.")):
        app.topic(name, NoopConsumer)


def test_valid_topic_name_edge_cases(app: App) -> None:
    app.topic("x" * 249, NoopConsumer)
    app.topic("a.b_c-D9", NoopConsumer)


def test_consumer_class_must_subclass_consumer(app: App) -> None:
    class Plain:
        def consume(self, messages: object) -> None: ...

    with pytest.raises(RoutingError, match=r"topic 'orders': consumer .*Plain.* must be a subcl"):
        app.topic("orders", Plain)  # type: ignore[arg-type]
    with pytest.raises(RoutingError, match=r"must be a subclass of engine\.Consumer"):
        app.topic("orders", NoopConsumer())  # type: ignore[arg-type]


def test_dead_letter_topic_must_differ_from_its_source(app: App) -> None:
    with pytest.raises(RoutingError, match="topic 'orders': the dead-letter topic must differ"):
        app.topic("orders", NoopConsumer, dead_letter_queue=DeadLetterQueue("orders"))
    app.topic("orders", NoopConsumer, dead_letter_queue=DeadLetterQueue("orders.dlq"))


def test_all_problems_of_a_topic_are_listed(app: App) -> None:
    with pytest.raises(RoutingError) as caught:
        app.topic("t", NoopConsumer, initial_offset="middle", max_messages=0,  # type: ignore[arg-type]
                  max_wait_time=-1, kafka={"group.id": "x"}, deserializer="json")  # type: ignore[arg-type]
    message = str(caught.value)
    for part in ("initial_offset must be 'earliest' or 'latest' (got 'middle')",
                 "max_messages must be an integer >= 1 (got 0)",
                 "max_wait_time must be a number of seconds > 0 (got -1)",
                 "kafka: group.id cannot be set", "deserializer must be callable"):
        assert part in message


def test_no_routes_at_run(app: App) -> None:
    with pytest.raises(RoutingError, match=r"no routes to run: declare one with app.topic"):
        app.subscription_groups()
    app.topic("a", NoopConsumer, active=False)
    with pytest.raises(RoutingError, match="every route is inactive or filtered out"):
        app.subscription_groups()


def test_filters_combine_kinds_and_alternate_names(app: App) -> None:
    app.topic("a", NoopConsumer)
    app.topic("b", NoopConsumer)
    app.consumer_group("g").topic("a", NoopConsumer)
    app.consumer_group("g").subscription_group("s").topic("c", NoopConsumer)
    assert ids(app, Selection(topics=("a",))) == [("engine/default", ("a",)), ("g/default", ("a",))]
    assert ids(app, Selection(consumer_groups=("g",), topics=("a", "c"))) == [
        ("g/default", ("a",)), ("g/s", ("c",)),
    ]
    assert ids(app, Selection(subscription_groups=("s",))) == [("g/s", ("c",))]
    assert ids(app, Selection(exclude_consumer_groups=("engine",), exclude_topics=("c",))) == [
        ("g/default", ("a",)),
    ]


def test_a_filter_name_that_matches_nothing_is_an_error(app: App) -> None:
    app.topic("a", NoopConsumer)
    with pytest.raises(RoutingError, match=r"no topic named 'z' \(known: a\)"):
        app.subscription_groups(Selection(topics=("z",)))
    with pytest.raises(RoutingError, match=r"no consumer group named 'x' \(known: engine\)"):
        app.subscription_groups(Selection(exclude_consumer_groups=("x",)))


def test_empty_group_names_are_refused(app: App) -> None:
    with pytest.raises(RoutingError, match="a consumer group name must be a non-empty string"):
        app.consumer_group("")
    with pytest.raises(RoutingError, match="a subscription group name must be a non-empty"):
        app.subscription_group(" ")


def test_routes_keep_per_topic_options(app: App) -> None:
    def deserialize(message: object) -> str:
        return "x"

    dlq = DeadLetterQueue("t.dlq", max_retries=1)
    topic = app.topic("t", NoopConsumer, deserializer=deserialize,
                      manual_offset_management=True, dead_letter_queue=dlq)
    assert (topic.deserializer, topic.manual_offset_management, topic.dead_letter_queue) == (
        deserialize, True, dlq,
    )
    assert issubclass(topic.consumer_class, Consumer)
