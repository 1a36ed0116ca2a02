"""app.produce / produce_sync on a real broker: from outside consumers, before and after a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import Consumer, Messages, NotRunningError
from tests.integration.conftest import make_app, wait_until


def test_app_produce_reaches_the_consumers_and_is_refused_after_the_stop(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(1)
    received: list[Any] = []

    class Sink(Consumer):
        def consume(self, messages: Messages) -> None:
            received.extend((m.key, m.payload, m.headers) for m in messages)

    app = make_app(bootstrap, unique("g"), kafka={"auto.offset.reset": "earliest"})
    app.topic(topic, Sink)
    app.produce_sync(topic, {"n": 0}, key="before")  # a process that has not started yet
    app.start()
    try:
        app.produce(topic, {"n": 1}, key="k", headers={"h": b"v"})  # a web handler, say
        app.produce_sync(topic, {"n": 2}, partition=0)
        wait_until(lambda: len(received) == 3, message="the three messages consumed")
    finally:
        app.stop()
    assert received == [("before", {"n": 0}, {}), ("k", {"n": 1}, {"h": b"v"}),
                        (None, {"n": 2}, {})]
    with pytest.raises(NotRunningError):
        app.produce(topic, {"n": 3})
