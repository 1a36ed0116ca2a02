"""The "at most once" loop of confluent-kafka's documentation: commit, then process.

The documented loop commits synchronously as soon as a poll returns and processes afterwards,
so a process that dies between the two has committed work it never did. Restated here for a
batch: the buggy consumer commits the batch's end (``mark_as_consumed(last, sync=True)``)
before it reads the batch; the correct one reads (books) every message, then commits.

Built-in check: the commit covers messages the consumer had not taken yet, so
``committed_beyond_processed`` fails at the commit itself, no crash needed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import BEYOND, SHRINK_BUDGET, app, caught, passes


def loop_app(commit_first: bool) -> App:
    """Books each message's amount; ``commit_first`` commits the batch before booking it."""
    booked: dict[tuple[int, int], Any] = {}

    class Booking(Consumer):
        def consume(self, messages: Messages) -> None:
            last = messages.last()
            assert last is not None
            if commit_first:
                self.mark_as_consumed(last, sync=True)  # the bug: nothing booked yet
            for message in messages:
                booked[(message.partition, message.offset)] = message.payload
            if not commit_first:
                self.mark_as_consumed(last, sync=True)

    built = app("at-most-once", "payments", Booking, manual_offset_management=True)
    built.booked = booked  # type: ignore[attr-defined]
    return built


def at_most_once() -> App:
    return loop_app(commit_first=True)


def at_least_once() -> App:
    return loop_app(commit_first=False)


class AtLeastOnceMachine(ConsumerMachine):
    app = at_least_once
    topic = "payments"
    partitions = 2
    values = st.integers(1, 9)

    def check_at_end(self, kafka: Harness) -> None:
        booked = kafka.app.booked  # type: ignore[attr-defined]
        assert set(booked) == {(m.partition, m.offset) for m in kafka.topic("payments")}


class AtMostOnceMachine(AtLeastOnceMachine):
    app = at_most_once
    shrink_budget = SHRINK_BUDGET


def test_committing_before_processing_is_committed_beyond_processed() -> None:
    text = caught(AtMostOnceMachine, BEYOND)
    assert "kafka.produce('payments'" in text


def test_processing_then_committing_passes() -> None:
    passes(AtLeastOnceMachine)
