from __future__ import annotations

import functools
import gc
import logging
import threading
from typing import Any

import pytest

from engine import App, UnknownEventError
from engine.instrumentation.monitor import Monitor
from tests.conftest import BOOTSTRAP


def test_subscribe_decorator_receives_sender_and_payload() -> None:
    monitor = Monitor(owner="the-app")
    seen: list[tuple[Any, dict[str, Any]]] = []

    @monitor.subscribe("consumer.consumed")
    def on_consumed(sender: Any, **event: Any) -> None:
        seen.append((sender, event))

    monitor.instrument("consumer.consumed", topic="t", partition=0)
    monitor.instrument("consumer.consumed", "worker", topic="u", partition=1)
    assert seen == [
        ("the-app", {"topic": "t", "partition": 0}),
        ("worker", {"topic": "u", "partition": 1}),
    ]


def test_receivers_are_held_strongly_and_called_in_subscription_order() -> None:
    monitor = Monitor()
    calls: list[int] = []

    def subscribe_closures() -> None:
        for index in range(3):
            monitor.subscribe("app.running", lambda sender, i=index, **_: calls.append(i))

    subscribe_closures()
    gc.collect()
    monitor.instrument("app.running", state="running", previous="initialized")
    assert calls == [0, 1, 2]


def test_object_subscriber_gets_each_on_method_wired() -> None:
    monitor = Monitor()

    class Metrics:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_app_running(self, sender: Any, **event: Any) -> None:
            self.seen.append("running")

        def on_connection_listener_fetch_loop_received(self, sender: Any, **event: Any) -> None:
            self.seen.append("received")

    metrics = monitor.subscribe(Metrics())
    monitor.instrument("app.running")
    monitor.instrument("connection.listener.fetch_loop.received")
    monitor.instrument("app.stopping")
    assert metrics.seen == ["running", "received"]


def test_object_subscriber_with_a_typo_is_refused_with_suggestions() -> None:
    class Typo:
        def on_app_runing(self, sender: Any, **event: Any) -> None:
            pass

    with pytest.raises(UnknownEventError) as caught:
        Monitor().subscribe(Typo())
    assert str(caught.value).startswith(
        "unknown event 'on_app_runing'; did you mean 'on_app_running'"
    )


def test_unknown_event_names_suggest_close_matches() -> None:
    monitor = Monitor()
    with pytest.raises(UnknownEventError) as caught:
        monitor.instrument("consumer.consumd")
    assert "did you mean 'consumer.consumed'" in str(caught.value)
    with pytest.raises(UnknownEventError):
        monitor.subscribe("nope.never", lambda sender, **e: None)


def test_register_event_adds_custom_events_and_is_idempotent() -> None:
    monitor = Monitor()
    seen: list[dict[str, Any]] = []
    monitor.register_event("orders.rejected")
    monitor.subscribe("orders.rejected", lambda sender, **e: seen.append(e))
    monitor.register_event("orders.rejected")
    monitor.instrument("orders.rejected", order_id=7)
    assert seen == [{"order_id": 7}]
    with pytest.raises(ValueError, match="invalid event name 'Bad Name'"):
        monitor.register_event("Bad Name")


def test_measure_adds_time_and_does_not_fire_when_the_block_raises() -> None:
    monitor = Monitor()
    monitor.register_event("orders.batch_saved")
    seen: list[dict[str, Any]] = []
    monitor.subscribe("orders.batch_saved", lambda sender, **e: seen.append(e))
    with monitor.measure("orders.batch_saved", count=3):
        pass
    with pytest.raises(RuntimeError), monitor.measure("orders.batch_saved", count=4):
        raise RuntimeError("boom")
    assert len(seen) == 1
    assert seen[0]["count"] == 3
    assert seen[0]["time"] >= 0


def test_a_raising_receiver_is_reported_and_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = Monitor()
    errors: list[dict[str, Any]] = []
    after: list[str] = []
    boom = ValueError("boom")

    def broken(sender: Any, **event: Any) -> None:
        raise boom

    monitor.subscribe("app.running", broken)
    monitor.subscribe("app.running", lambda sender, **e: after.append("ran"))
    monitor.subscribe("error.occurred", lambda sender, **e: errors.append(e))
    with caplog.at_level(logging.ERROR, logger="engine.monitor"):
        monitor.instrument("app.running")
    assert after == ["ran"]
    assert errors == [
        {"type": "monitor.subscriber.error", "error": boom, "event": "app.running",
         "receiver": broken},
    ]
    assert "receiver" in caplog.text and "boom" in caplog.text


def test_a_raising_error_receiver_is_only_logged_never_recursive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = Monitor()
    calls: list[int] = []

    def broken(sender: Any, **event: Any) -> None:
        calls.append(1)
        raise ValueError("inner")

    monitor.subscribe("error.occurred", broken)
    with caplog.at_level(logging.ERROR, logger="engine.monitor"):
        monitor.instrument("error.occurred", type="worker.process.error", error=KeyError())
    assert calls == [1]
    assert "inner" in caplog.text


def test_two_apps_never_see_each_others_events() -> None:
    first, second = App(kafka=BOOTSTRAP), App(kafka=BOOTSTRAP)
    seen: list[str] = []
    first.monitor.subscribe("consumer.consumed", lambda sender, **e: seen.append("first"))
    second.monitor.register_event("custom.thing")
    second.monitor.instrument("consumer.consumed")
    assert seen == []
    with pytest.raises(UnknownEventError):
        first.monitor.instrument("custom.thing")


def test_user_events_are_sent_with_the_app_as_sender(app: App) -> None:
    senders: list[Any] = []
    app.monitor.register_event("orders.rejected")
    app.monitor.subscribe("orders.rejected", lambda sender, **e: senders.append(sender))
    app.monitor.instrument("orders.rejected", order_id=1)
    assert senders == [app]


def test_unsubscribe_disconnects_functions_and_objects() -> None:
    monitor = Monitor()
    seen: list[str] = []

    class Sub:
        def on_app_running(self, sender: Any, **event: Any) -> None:
            seen.append("object")

    def function(sender: Any, **event: Any) -> None:
        seen.append("function")

    sub = monitor.subscribe(Sub())
    monitor.subscribe("app.running", function)
    monitor.unsubscribe(sub)
    monitor.unsubscribe(function)
    monitor.instrument("app.running")
    assert seen == []
    assert not monitor.listening("app.running")


def test_subscribing_while_instrumenting_from_another_thread_is_safe() -> None:
    monitor = Monitor()
    stop = threading.Event()
    failures: list[BaseException] = []

    def fire() -> None:
        try:
            while not stop.is_set():
                monitor.instrument("worker.process", job=None)
        except BaseException as error:  # noqa: BLE001 - the assertion reports it
            failures.append(error)

    thread = threading.Thread(target=fire)
    thread.start()
    for _ in range(2000):
        monitor.subscribe("worker.process", lambda sender, **e: None)
    stop.set()
    thread.join(timeout=30)
    assert failures == []
    assert len(monitor.signal("worker.process").receivers) == 2000


def test_a_receiver_limited_to_one_sender_hears_only_that_sender() -> None:
    monitor = Monitor()
    one, other = object(), object()
    heard: list[str] = []
    monitor.subscribe("app.running", lambda sender, **e: heard.append("any"))
    monitor.subscribe("app.running", lambda sender, **e: heard.append("one"), sender=one)
    monitor.signal("app.running").connect(  # straight on the blinker signal, too
        lambda sender, **e: heard.append("other"), sender=other, weak=False)
    monitor.instrument("app.running", one)
    monitor.instrument("app.running", other)
    assert heard == ["any", "one", "any", "other"]  # subscription order, filters honoured


def test_an_async_def_receiver_behind_functools_partial_is_refused_too() -> None:
    monitor = Monitor(owner="the-app")

    async def on_consumed(label: str, sender: Any, **event: Any) -> None:
        pass  # blinker would call it and drop the coroutine

    with pytest.raises(TypeError, match=r"for 'consumer\.consumed' is async def"):
        monitor.subscribe("consumer.consumed", functools.partial(on_consumed, "orders"))
    assert not monitor.listening("consumer.consumed")
