"""The order of lifecycle events for a stop, and for a quiet followed by a stop."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine import App, Consumer, Messages
from tests.integration.conftest import Recorder, make_app, produce, wait_until

APP_PATH = ["app.initialized", "app.running", "app.stopping", "app.stopped", "app.terminated"]
LISTENER_PATH = [
    "connection.listener.pending", "connection.listener.starting", "connection.listener.running",
    "connection.listener.quieting", "connection.listener.quiet",
    "connection.listener.stopping", "connection.listener.stopped",
]


class Counting(Consumer):
    consumed: list[int]
    shutdowns: list[int]
    lock = threading.Lock()

    def consume(self, messages: Messages) -> None:
        with self.lock:
            type(self).consumed.append(len(messages))

    def shutdown(self) -> None:
        with self.lock:
            type(self).shutdowns.append(self.partition)


def consuming_app(
    bootstrap: str, topic: str, group: str
) -> tuple[type[Counting], Recorder, App]:
    consumer = type("C", (Counting,), {"consumed": [], "shutdowns": []})
    app = make_app(bootstrap, group)
    recorder = Recorder(app)
    app.topic(topic, consumer)
    return consumer, recorder, app


def fill_both_partitions(bootstrap: str, topic: str) -> None:
    """Five messages in each partition: the hooks checked below need a consumer in each.

    Unkeyed sends may all land in one partition (librdkafka's sticky partitioner keeps a
    partition for a few milliseconds), which left partition 1 without a consumer now and then.
    """
    for partition in (0, 1):
        produce(bootstrap, topic, [b"{}"] * 5, partition=partition)


def state_events(recorder: Recorder) -> list[str]:
    listener = [f"connection.listener.{s}" for s in
                ("pending", "starting", "running", "quieting", "quiet", "stopping", "stopped")]
    return [n for n in recorder.names() if n.startswith("app.") or n in listener]


def test_stop_walks_app_and_listener_through_every_state_in_order(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(2)
    fill_both_partitions(bootstrap, topic)
    consumer, recorder, app = consuming_app(bootstrap, topic, unique("g"))
    app.start()
    wait_until(lambda: sum(consumer.consumed) == 10, message="10 messages")
    app.stop()
    events = state_events(recorder)
    assert [e for e in events if e.startswith("app.")] == APP_PATH[1:]  # initialized: before
    assert [e for e in events if e.startswith("connection.")] == LISTENER_PATH
    assert events.index("app.stopping") < events.index("connection.listener.quieting")
    assert events.index("connection.listener.stopped") < events.index("app.stopped")
    assert sorted(consumer.shutdowns) == [0, 1]  # one consumer per partition, once each
    assert recorder.names("rebalance.partitions_assigned")


def test_quiet_then_stop_runs_shutdown_hooks_exactly_once(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(2)
    fill_both_partitions(bootstrap, topic)
    consumer, recorder, app = consuming_app(bootstrap, topic, unique("g"))
    app.start()
    wait_until(lambda: sum(consumer.consumed) == 10, message="10 messages")
    assert app.quiet() is True
    assert app.state == "quiet"
    assert sorted(consumer.shutdowns) == [0, 1]
    polls = len(recorder.of("connection.listener.fetch_loop.received"))
    produce(bootstrap, topic, [b"{}"] * 6)  # quiet: still polling, but nothing is consumed
    wait_until(lambda: len(recorder.of("connection.listener.fetch_loop.received")) > polls + 5,
               message="five polls while quiet")
    app.stop()
    assert sorted(consumer.shutdowns) == [0, 1]  # not again on stop
    assert sum(consumer.consumed) == 10
    assert [e for e in state_events(recorder) if e.startswith("app.")] == [
        "app.running", "app.quieting", "app.quiet", "app.stopping", "app.stopped",
        "app.terminated",
    ]
