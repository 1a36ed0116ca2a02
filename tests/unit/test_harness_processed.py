"""What counts as processed: what the consumer took, marked past, or dead-lettered."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness, Position, ScheduleError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
BUDGET = settings(max_examples=100, deadline=None, database=None, derandomize=True)
Consume = Callable[[Consumer, Messages], None]


def app_with(consume: Consume, **route: Any) -> App:
    """An app whose one topic, "orders", runs ``consume`` (batches of up to five)."""
    app = App(kafka=KAFKA, client_id="shop", max_messages=5)

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            consume(self, messages)

    app.topic("orders", Orders, **route)
    return app


def store(value: int) -> None:
    """The consumer's store: it refuses multiples of three."""
    if value % 3 == 0:
        raise ValueError(f"refused {value}")


def swallowing(consumer: Consumer, messages: Messages) -> None:
    """The bug: one error ends the loop, and the rest of the batch is never stored."""
    try:
        for message in messages:
            store(message.payload)
    except ValueError:
        pass


def swallowing_each(consumer: Consumer, messages: Messages) -> None:
    """Correct: an error is swallowed for its one message, and the loop goes on."""
    for message in messages:
        with contextlib.suppress(ValueError):
            store(message.payload)


def pausing(resume_at_message: bool) -> Consume:
    """Pause on multiples of three (once each); the bug resumes after the batch."""
    paused: set[int] = set()

    def consume(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            if message.payload % 3 == 0 and message.offset not in paused:
                paused.add(message.offset)
                consumer.pause(message.offset if resume_at_message else None, timeout=5.0)
                return
    return consume


def lost_of(consume: Consume, values: list[int], **route: Any) -> list[Position]:
    """Produce ``values`` in one batch, run to idle; what the history calls lost."""
    with Harness(app_with(consume, **route)) as kafka:
        for value in values:
            kafka.produce("orders", value)
        kafka.run()
        return kafka.history.lost()


def test_a_swallowed_error_loses_the_rest_of_the_batch() -> None:
    assert lost_of(swallowing, [1, 3, 4]) == [Position("orders", 0, 2)]
    assert lost_of(swallowing_each, [1, 3, 4]) == []


def test_a_pause_that_skips_the_rest_of_the_batch_loses_it() -> None:
    assert lost_of(pausing(False), [1, 3, 4]) == [Position("orders", 0, 2)]
    assert lost_of(pausing(True), [1, 3, 4]) == []


def by_payloads(consumer: Consumer, messages: Messages) -> None:
    """A bulk insert of the payloads, then the last message marked."""
    assert len(messages.payloads) == len(messages)
    last = messages.last()
    assert last is not None
    consumer.mark_as_consumed(last)


def by_raw(consumer: Consumer, messages: Messages) -> None:
    """Raw messages, as the client returned them."""
    for raw in messages.raw:
        raw.value()


def by_last_mark(consumer: Consumer, messages: Messages) -> None:
    """Only the latest state matters: the last message, marked (the rest marked past)."""
    last = messages.last()
    assert last is not None
    consumer.mark_as_consumed(last)


def by_index(consumer: Consumer, messages: Messages) -> None:
    """Indexes, ``first()`` among them."""
    assert messages.first() is messages[0]
    assert all(messages[index] is not None for index in range(1, len(messages)))


@pytest.mark.parametrize("consume", [by_payloads, by_raw, by_last_mark, by_index],
                         ids=lambda consume: consume.__name__)
def test_every_public_way_of_reading_a_batch_processes_it(consume: Consume) -> None:
    manual = consume in (by_payloads, by_last_mark)
    with Harness(app_with(consume, manual_offset_management=manual)) as kafka:
        for value in range(7):
            kafka.produce("orders", value)
        kafka.run()
        kafka.stop()
        kafka.history.check()
        assert kafka.committed("orders", 0) == 7


def test_a_batch_kept_and_read_after_its_call_is_processed_then() -> None:
    kept: list[Messages] = []
    with Harness(app_with(lambda consumer, messages: kept.append(messages),
                          manual_offset_management=True)) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.history.lost() == [Position("orders", 0, 0)]
        assert [message.payload for message in kept[0]] == [1]
        assert kafka.history.lost() == []


class SwallowingMachine(ConsumerMachine):
    """No check of its own: the built-in checks must see what was skipped."""

    app = staticmethod(lambda: app_with(swallowing))
    topic = "orders"
    values = st.integers(0, 9)


class SwallowingEachMachine(SwallowingMachine):
    app = staticmethod(lambda: app_with(swallowing_each))


class PauseSkippingMachine(SwallowingMachine):
    app = staticmethod(lambda: app_with(pausing(False)))


class PauseResumingMachine(SwallowingMachine):
    app = staticmethod(lambda: app_with(pausing(True)))


@pytest.mark.parametrize("machine", [SwallowingMachine, PauseSkippingMachine],
                         ids=lambda machine: machine.__name__)
def test_the_machine_catches_a_batch_skipped_after_a_swallowed_error_or_a_pause(
        machine: type[ConsumerMachine]) -> None:
    with pytest.raises(ScheduleError, match=r"lost|committed_beyond_processed"):
        run_state_machine_as_test(machine, settings=BUDGET)


@pytest.mark.parametrize("machine", [SwallowingEachMachine, PauseResumingMachine],
                         ids=lambda machine: machine.__name__)
def test_the_correct_variants_pass(machine: type[ConsumerMachine]) -> None:
    run_state_machine_as_test(machine, settings=settings(BUDGET, max_examples=50))
