"""The harness as faithful as a broker: fixed time, ``.raw`` taken, background commits, Stuck."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import EPOCH, ConsumerMachine, Harness, HarnessError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def app_with(consume: Callable[[Consumer, Messages], None], **route: Any) -> App:
    """An app whose one topic, "orders", runs ``consume``."""
    app = App(kafka=KAFKA, client_id="shop")

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            consume(self, messages)

    app.topic("orders", Orders, **route)
    return app


# -- time: a fixed epoch -----------------------------------------------------------------------

def test_the_wall_clock_starts_at_the_fixed_epoch_and_moves_with_virtual_time() -> None:
    with Harness(app_with(lambda c, ms: None)) as kafka:
        assert kafka.produce("orders", 1).timestamp == EPOCH == datetime(2026, 1, 1,
                                                                          tzinfo=timezone.utc)
        kafka.clock.advance(90)
        assert kafka.produce("orders", 2).timestamp == EPOCH + timedelta(seconds=90)


def test_epoch_takes_an_aware_datetime_or_seconds_and_refuses_a_naive_one() -> None:
    moment = datetime(2030, 6, 1, 12, tzinfo=timezone.utc)
    with Harness(app_with(lambda c, ms: None), epoch=moment) as kafka:
        assert kafka.produce("orders", 1).timestamp == moment
    with Harness(app_with(lambda c, ms: None), epoch=moment.timestamp()) as kafka:
        assert kafka.produce("orders", 1).timestamp == moment
    with pytest.raises(HarnessError, match="needs a timezone"):
        Harness(app_with(lambda c, ms: None), epoch=datetime(2030, 6, 1))


def test_what_a_consumer_produces_is_stamped_by_the_virtual_wall_clock() -> None:
    def forward(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            consumer.produce("copies", message.payload)

    with Harness(app_with(forward), partitions={"copies": 1}) as kafka:
        kafka.clock.advance(30)
        kafka.produce("orders", 1)
        kafka.run()
        assert [m.timestamp for m in kafka.topic("copies")] == [EPOCH + timedelta(seconds=30)]


def windows_app() -> App:
    """Counts messages per minute window of their timestamps (a time-bucketing consumer)."""
    app = App(kafka=KAFKA, client_id="windows")
    windows: dict[datetime, set[int]] = {}

    class Windows(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                stamp = message.timestamp
                assert stamp is not None
                windows.setdefault(stamp.replace(second=0, microsecond=0), set()).add(
                    message.offset)

    app.topic("events", Windows)
    app.windows = windows  # type: ignore[attr-defined]
    return app


class WindowsMachine(ConsumerMachine):
    app = windows_app
    topic = "events"

    def check_at_end(self, kafka: Harness) -> None:
        last = EPOCH + timedelta(seconds=kafka.clock.now())
        windows = kafka.app.windows  # type: ignore[attr-defined]
        assert all(EPOCH <= window <= last for window in windows), sorted(windows)


def test_a_time_bucketing_consumer_sees_the_same_windows_on_every_run() -> None:
    run_state_machine_as_test(WindowsMachine,
                              settings=settings(max_examples=20, deadline=None, database=None))
