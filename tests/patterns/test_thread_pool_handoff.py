"""Handing each batch to a thread pool and returning at once.

A common way to "speed up" a Python consumer: ``executor.submit(write_batch, messages)`` and
return, so the next poll is not held up. The framework marks the batch as ``consume``
returns, and the next commit covers work a worker has not done yet; a crash loses it. The
buggy variant does that (its pool is drained when the consumer is next called, and waited for
on shutdown, as ``executor.shutdown(wait=True)`` does); the correct one waits for its jobs
before returning.

Built-in check: the worker reads the batch when it gets to it, so a commit before that covers
messages never taken: ``committed_beyond_processed`` (or ``lost`` when the pool dies with the
process). The pool is ``kit.LaterPool``: real threads would make outcomes depend on timing.
"""

from __future__ import annotations

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import BEYOND, LOST, SHRINK_BUDGET, LaterPool, app, caught, passes


def pool_app(waits: bool) -> App:
    """Writes (partition, offset) -> value rows from a pool; ``waits`` waits for each batch."""
    rows: dict[tuple[int, int], object] = {}

    def write_batch(messages: Messages) -> None:
        rows.update(((m.partition, m.offset), m.payload) for m in messages)

    class HandOff(Consumer):
        def __init__(self) -> None:
            super().__init__()
            self.pool = LaterPool()  # dies with the process, as a thread pool does

        def consume(self, messages: Messages) -> None:
            self.pool.run_pending()  # the workers caught up meanwhile
            self.pool.submit(write_batch, messages)
            if waits:
                self.pool.run_pending()  # wait for the futures before returning

        def shutdown(self) -> None:
            self.pool.run_pending()  # executor.shutdown(wait=True)

    built = app("hand-off", "clicks", HandOff)
    built.rows = rows  # type: ignore[attr-defined]
    return built


def returns_at_once() -> App:
    return pool_app(waits=False)


def waits_for_the_pool() -> App:
    return pool_app(waits=True)


class WaitingMachine(ConsumerMachine):
    app = waits_for_the_pool
    topic = "clicks"
    partitions = 2
    values = st.integers(0, 9)
    end = "stop"

    def check_at_end(self, kafka: Harness) -> None:
        rows = kafka.app.rows  # type: ignore[attr-defined]
        assert set(rows) == {(m.partition, m.offset) for m in kafka.topic("clicks")}


class FireAndForgetMachine(ConsumerMachine):
    """No check of its own: the built-in checks see the commit outrun the workers."""

    app = returns_at_once
    topic = "clicks"
    partitions = 2
    values = st.integers(0, 9)
    end = "stop"  # the pool is waited for on shutdown: the bug is the commit, not the end
    shrink_budget = SHRINK_BUDGET


def test_submitting_a_batch_to_a_pool_and_returning_commits_beyond_processed() -> None:
    caught(FireAndForgetMachine, BEYOND, LOST)


def test_waiting_for_the_pool_before_returning_passes() -> None:
    passes(WaitingMachine)
