"""app.produce / produce_sync outside consumers: encoding, errors, where they are refused."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from engine import App, NotRunningError, ProduceError
from engine.lifecycle import AppState
from tests.conftest import BOOTSTRAP


class RecordingKafkaProducer:
    """librdkafka's producer: records sends; ``failure`` is every delivery's error."""

    def __init__(self, failure: Any = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failure = failure
        self.pending: list[Any] = []
        self.on_produce: Any = None

    def produce(self, topic: str, value: Any, **options: Any) -> None:
        self.sent.append({"topic": topic, "value": value, **options})
        self.pending.append(options["on_delivery"])
        if self.on_produce is not None:
            self.on_produce()

    def poll(self, timeout: float) -> int:
        served = len(self.pending)
        while self.pending:
            self.pending.pop(0)(self.failure, None)
        return served

    def flush(self, timeout: float) -> int:
        return len(self.pending)


@pytest.fixture
def app() -> Iterator[App]:
    app = App(kafka=BOOTSTRAP)
    yield app
    atexit.unregister(app._sending.flush_at_exit)  # the test's app must not outlive it


def with_fake(app: App, fake: RecordingKafkaProducer) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    app.monitor.subscribe("error.occurred", lambda sender, **event: errors.append(event))
    app.producer._producer = fake
    return errors


def test_app_produce_encodes_as_a_consumer_does(app: App) -> None:
    fake = RecordingKafkaProducer()
    errors = with_fake(app, fake)
    app.produce("orders", {"id": 7}, key="k-7", headers={"h": b"v"}, partition=2)
    app.produce_sync("orders", "text")
    app.produce_sync("orders", b"raw", key=b"k")
    assert [(s["topic"], s["value"], s["key"], s["headers"], s.get("partition"))
            for s in fake.sent] == [
        ("orders", b'{"id": 7}', b"k-7", {"h": b"v"}, 2),
        ("orders", b"text", None, None, None),
        ("orders", b"raw", b"k", None, None),
    ]
    assert errors == []


def test_failed_deliveries_are_reported_as_a_consumers_are(app: App) -> None:
    fake = RecordingKafkaProducer(failure="broker says no")
    errors = with_fake(app, fake)
    app.produce("orders", 1)  # async: reported, not raised
    assert [(e["type"], e["topic"]) for e in errors] == [("producer.delivery.error", "orders")]
    with pytest.raises(ProduceError, match="sending to 'orders' failed: broker says no"):
        app.produce_sync("orders", 2)


def test_app_produce_is_refused_after_the_stop(app: App) -> None:
    fake = RecordingKafkaProducer()
    with_fake(app, fake)
    for state in (AppState.RUNNING, AppState.STOPPING):
        app.lifecycle.request(state)
    app.producer.close(1.0)  # what the server's stop does
    app.lifecycle.request(AppState.STOPPED)
    for send in (app.produce, app.produce_sync):
        with pytest.raises(NotRunningError, match="this app stopped and closed its producer"):
            send("orders", 1)
    assert fake.sent == []


def test_app_produce_is_refused_in_a_swarm_supervisor(app: App) -> None:
    app.lifecycle.request(AppState.SUPERVISING)
    with pytest.raises(NotRunningError, match="supervisor does not produce"):
        app.produce("orders", 1)
    assert not app.producer.has_client  # no client to copy into the nodes


def test_a_closed_producer_refuses_a_consumers_send_too(app: App) -> None:
    with_fake(app, RecordingKafkaProducer())
    app.producer.close(1.0)
    with pytest.raises(NotRunningError, match="the producer is closed"):
        app.producer.produce("orders", 1)  # what Consumer.produce calls


def test_a_send_that_raced_the_close_flushes_itself(app: App) -> None:
    fake = RecordingKafkaProducer()
    fake.poll = lambda timeout: 0  # type: ignore[method-assign] # nothing delivered
    errors = with_fake(app, fake)
    fake.on_produce = lambda: app.producer.close(0.1)  # the app stops while it enqueues
    app.produce("orders", 1)
    assert [(e["type"], e["count"]) for e in errors] == [
        ("producer.delivery.error", 1),  # the close's own report
        ("producer.delivery.error", 1),  # the racing send's: it flushed what it enqueued
    ]


def test_what_was_sent_before_a_start_is_flushed_at_exit(
    app: App, caplog: pytest.LogCaptureFixture,
) -> None:
    fake = RecordingKafkaProducer()
    fake.poll = lambda timeout: 0  # type: ignore[method-assign] # nothing delivered
    errors = with_fake(app, fake)
    app.produce("orders", 1)  # a script: the app never starts
    caplog.set_level(logging.WARNING, logger="engine.producer")
    app._sending.flush_at_exit()  # what atexit calls
    assert app.producer.closed
    assert [(e["type"], e["count"]) for e in errors] == [("producer.delivery.error", 1)]
    assert "1 message(s) sent through the app were not delivered" in caplog.text
    app._sending.flush_at_exit()  # a second call (the app stopped meanwhile) is a no-op
