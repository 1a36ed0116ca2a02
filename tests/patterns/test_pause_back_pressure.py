"""kafkajs-style back-pressure: pause when downstream is full, and drop the rest of the batch.

kafkajs' documentation pauses a topic from inside the batch handler when a downstream queue is
full, and resumes later. The pattern's trap is what happens to the batch: the handler stops
mid-batch and returns, the framework considers the batch handled, and fetching resumes after
it. The buggy variant pauses with ``pause(timeout=...)`` and returns; the correct one pauses
at the message downstream refused, ``pause(message.offset, timeout=...)``, so fetching
resumes there.

Built-in check: the messages after the refused one were never taken and never come again:
``lost``. (The refused message itself was read, so only an oracle would see it: the downstream
comparison in ``check_at_end`` of the correct machine.)
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import LOST, SHRINK_BUDGET, app, caught, passes

REFUSE_EVERY = 3  # downstream refuses every third offer: its queue is full


class Downstream:
    """A bounded queue's consumer side, deterministic: every third offer finds it full."""

    def __init__(self) -> None:
        """Nothing accepted yet."""
        self.accepted: dict[tuple[int, int], Any] = {}
        self._offers = 0

    def offer(self, position: tuple[int, int], value: Any) -> bool:
        """Accept ``value``, or False when full (try again after a while)."""
        self._offers += 1
        if self._offers % REFUSE_EVERY == 0:
            return False
        self.accepted[position] = value
        return True


def back_pressure_app(pauses_at_refused: bool) -> App:
    """Forwards messages downstream; when it is full, pauses for a second."""
    downstream = Downstream()

    class Forwarder(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if not downstream.offer((message.partition, message.offset), message.payload):
                    if pauses_at_refused:
                        self.pause(message.offset, timeout=1.0)
                    else:
                        self.pause(timeout=1.0)  # the bug: the rest of the batch is dropped
                    return

    built = app("back-pressure", "jobs", Forwarder)
    built.downstream = downstream  # type: ignore[attr-defined]
    return built


def pauses_after_batch() -> App:
    return back_pressure_app(pauses_at_refused=False)


def pauses_at_refused() -> App:
    return back_pressure_app(pauses_at_refused=True)


class BackPressureMachine(ConsumerMachine):
    app = pauses_at_refused
    topic = "jobs"
    partitions = 2
    values = st.integers(0, 9)

    def check_at_end(self, kafka: Harness) -> None:
        accepted = kafka.app.downstream.accepted  # type: ignore[attr-defined]
        assert set(accepted) == {(m.partition, m.offset) for m in kafka.topic("jobs")}


class DroppingMachine(ConsumerMachine):
    """No check of its own: the built-in ``lost`` sees the dropped rest of the batch."""

    app = pauses_after_batch
    topic = "jobs"
    partitions = 2
    values = st.integers(0, 9)
    shrink_budget = SHRINK_BUDGET


def test_pausing_mid_batch_without_an_offset_loses_the_rest_of_the_batch() -> None:
    caught(DroppingMachine, LOST)


def test_pausing_at_the_refused_message_gets_it_again_and_passes() -> None:
    passes(BackPressureMachine)
