"""An operator pauses and resumes a partition of a running app (``App.pause``/``resume``)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine import Consumer, Messages
from engine.errors import ConfigError, RoutingError
from tests.integration.conftest import make_app, produce, wait_until


def test_a_paused_partition_takes_nothing_until_resumed_and_then_everything_once(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(2)
    seen: dict[int, list[int]] = {0: [], 1: []}
    lock = threading.Lock()

    class Recording(Consumer):
        def consume(self, messages: Messages) -> None:
            with lock:
                seen[self.partition] += [message.offset for message in messages]

    app = make_app(bootstrap, unique("g"), max_wait_time=0.2)
    app.topic(topic, Recording)
    polls = [0]
    app.monitor.subscribe("connection.listener.fetch_loop",
                          lambda sender, **event: polls.__setitem__(0, polls[0] + 1))
    paused: list[int] = []
    app.monitor.subscribe("client.pause", lambda sender, **event: paused.append(
        event["partition"]))
    for partition in (0, 1):
        produce(bootstrap, topic, [b"before"] * 5, partition=partition)
    app.start()
    try:
        wait_until(lambda: len(seen[0]) == 5 and len(seen[1]) == 5, message="the first inputs")
        app.pause(topic, 0)  # until resumed
        wait_until(lambda: 0 in paused, message="the listener to pause partition 0")
        for partition in (0, 1):
            produce(bootstrap, topic, [b"while"] * 5, partition=partition)
        wait_until(lambda: len(seen[1]) == 10, message="partition 1 flowing on")
        after = polls[0]
        wait_until(lambda: polls[0] >= after + 5, message="five more polls")
        assert seen[0] == list(range(5))  # nothing of partition 0 while paused
        app.resume(topic, 0)
        wait_until(lambda: len(seen[0]) == 10, message="partition 0 after its resume")
    finally:
        app.stop()
    assert seen == {0: list(range(10)), 1: list(range(10))}  # nothing skipped or read twice


def test_pausing_a_partition_names_what_is_wrong(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(1)

    class Idle(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

    app = make_app(bootstrap, unique("g"))
    app.topic(topic, Idle)
    with pytest.raises(RoutingError, match=r"topic 'elsewhere' is not consumed by this app"
                                           rf" \(routed topics: {topic}\)"):
        app.pause("elsewhere", 0)
    with pytest.raises(ConfigError) as refused:
        app.pause(topic, -1, timeout=0)
    assert len(refused.value.problems) == 2 and "partition must be" in str(refused.value)
    with pytest.raises(Exception, match="not running"):
        app.pause(topic, 0)
