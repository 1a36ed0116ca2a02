"""An early Sentry-style batching sink: buffer, and let offsets move before the flush.

The sink keeps the batches it is handed and writes them to its store three at a time (and
on shutdown). The buggy variant leaves offset management to the framework, which marks each
batch as ``consume`` returns, so a commit (the auto-commit timer, a rebalance, a restart)
covers messages still in memory: a crash then loses them. The correct variant manages offsets
itself and marks the last message it wrote, after the write.

Built-in check: the kept batches are read at flush time, so a commit before the flush covers
messages never taken: ``committed_beyond_processed`` (or ``lost`` after a crash).
"""

from __future__ import annotations

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import BEYOND, LOST, SHRINK_BUDGET, app, caught, passes

FLUSH_EVERY = 3  # batches


def sink_app(marks_after_flush: bool) -> App:
    """A sink writing (partition, offset) -> value rows, flushed every ``FLUSH_EVERY`` batches."""
    store: dict[tuple[int, int], object] = {}

    class BatchingSink(Consumer):
        def __init__(self) -> None:
            super().__init__()
            self.buffer: list[Messages] = []

        def consume(self, messages: Messages) -> None:
            self.buffer.append(messages)  # read when flushed
            if len(self.buffer) >= FLUSH_EVERY:
                self.flush()

        def flush(self) -> None:
            for batch in self.buffer:
                store.update(((m.partition, m.offset), m.payload) for m in batch)
            if marks_after_flush and self.buffer:
                last = self.buffer[-1].last()
                assert last is not None
                self.mark_as_consumed(last)
            self.buffer = []

        def revoked(self) -> None:
            self.buffer = []  # not marked: the partition's next owner gets them again

        def shutdown(self) -> None:
            self.flush()

    built = app("sink", "events", BatchingSink, manual_offset_management=marks_after_flush)
    built.store = store  # type: ignore[attr-defined]
    return built


def marks_on_return() -> App:
    return sink_app(marks_after_flush=False)


def marks_after_flush() -> App:
    return sink_app(marks_after_flush=True)


class FlushingSinkMachine(ConsumerMachine):
    app = marks_after_flush
    topic = "events"
    partitions = 2
    values = st.integers(0, 9)
    end = "stop"  # the buffer is written in shutdown

    def check_at_end(self, kafka: Harness) -> None:
        store = kafka.app.store  # type: ignore[attr-defined]
        assert set(store) == {(m.partition, m.offset) for m in kafka.topic("events")}


class EarlyMarkingSinkMachine(ConsumerMachine):
    """No check of its own: the built-in checks see the commit outrun the flush."""

    app = marks_on_return
    topic = "events"
    partitions = 2
    values = st.integers(0, 9)
    end = "stop"
    shrink_budget = SHRINK_BUDGET


def test_a_sink_whose_offsets_move_before_its_flush_is_caught_by_the_built_in_checks() -> None:
    caught(EarlyMarkingSinkMachine, BEYOND, LOST)


def test_a_sink_that_marks_what_it_wrote_after_the_write_passes() -> None:
    passes(FlushingSinkMachine)
