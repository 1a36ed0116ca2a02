"""An indexer's swallowed retry cascade: a batch fails, the error is logged, the loop moves on.

Indexers that bulk-write a batch often wrap the whole write in ``try``/``except``: a failure
is logged ("will be picked up later") and the consumer returns as if the batch were done. The
rest of that batch is never indexed and never comes again. The buggy variant does exactly
that; the correct one lets the error out, so the framework retries the batch with back-off.

Built-in checks: the loop stops at the failing document, so the rest of the batch was never
taken and never redelivered: ``lost``, or ``committed_beyond_processed`` once the batch's
automatic mark is committed. (The failing document itself was read, so only an
oracle would see it; the index is keyed by position, so a retry rewrites it harmlessly.)
"""

from __future__ import annotations

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import (
    BEYOND,
    LOST,
    SHRINK_BUDGET,
    FlakyStore,
    UnavailableError,
    app,
    caught,
    log,
    passes,
)


def indexer_app(swallows: bool) -> App:
    """Indexes each document by position; ``swallows`` logs a failed batch and returns."""
    index = FlakyStore()

    class Indexer(Consumer):
        def consume(self, messages: Messages) -> None:
            if not swallows:
                self.index(messages)
                return
            try:
                self.index(messages)
            except UnavailableError:  # the bug: the rest of the batch is dropped
                log.warning("indexing a batch of %s failed; moving on", messages.topic)

        def index(self, messages: Messages) -> None:
            for message in messages:
                index.write((message.partition, message.offset), message.payload)

    built = app("indexer", "documents", Indexer)
    built.index = index  # type: ignore[attr-defined]
    return built


def swallowing() -> App:
    return indexer_app(swallows=True)


def retrying() -> App:
    return indexer_app(swallows=False)


class IndexerMachine(ConsumerMachine):
    app = retrying
    topic = "documents"
    partitions = 2
    values = st.fixed_dictionaries({"flaky": st.booleans()})

    def check_at_end(self, kafka: Harness) -> None:
        indexed = kafka.app.index.rows  # type: ignore[attr-defined]
        assert set(indexed) == {(m.partition, m.offset) for m in kafka.topic("documents")}


class SwallowingIndexerMachine(ConsumerMachine):
    """No check of its own: the built-in checks see the dropped rest of the batch."""

    app = swallowing
    topic = "documents"
    partitions = 2
    values = st.fixed_dictionaries({"flaky": st.booleans()})
    shrink_budget = SHRINK_BUDGET


def test_a_swallowed_batch_failure_loses_the_rest_of_the_batch() -> None:
    caught(SwallowingIndexerMachine, LOST, BEYOND)


def test_letting_the_failure_out_retries_the_batch_and_passes() -> None:
    passes(IndexerMachine)
