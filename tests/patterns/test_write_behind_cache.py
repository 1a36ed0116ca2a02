"""A write-behind cache of the latest value per key, committed before it is written.

A consumer that materialises "latest value per key" (a profile, a price) keeps a cache and
writes it to the store every few updates, to save round trips. The buggy variant lets the
framework mark each batch as ``consume`` returns: offsets are committed while the newest
values live only in the cache, and a crash (or a rebalance, whose hook drops the cache)
leaves the store with stale or missing keys. The
correct variant manages offsets and marks the last message it cached only after a flush.

Only a user oracle sees it: the consumer copied each value into its cache, so the harness
counts the message processed. ``check_at_end`` compares the store with the last value of each
key in ``kafka.topic(...)`` (keys go to one partition, in order).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Message, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import SHRINK_BUDGET, app, caught, passes

FLUSH_AT = 3  # keys cached


def cache_app(marks_after_flush: bool) -> App:
    """Latest value per key, flushed to ``store`` every ``FLUSH_AT`` keys and on shutdown."""
    store: dict[Any, Any] = {}

    class WriteBehind(Consumer):
        def __init__(self) -> None:
            super().__init__()
            self.cache: dict[Any, Any] = {}
            self.newest: Message | None = None

        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.cache[message.key] = message.payload
                self.newest = message
            if len(self.cache) >= FLUSH_AT:
                self.flush()

        def flush(self) -> None:
            store.update(self.cache)
            self.cache = {}
            if marks_after_flush and self.newest is not None:
                self.mark_as_consumed(self.newest)

        def revoked(self) -> None:
            self.cache, self.newest = {}, None  # unmarked: the next owner reads them again

        def shutdown(self) -> None:
            self.flush()

    built = app("write-behind", "prices", WriteBehind,
                manual_offset_management=marks_after_flush)
    built.store = store  # type: ignore[attr-defined]
    return built


def marks_on_return() -> App:
    return cache_app(marks_after_flush=False)


def marks_after_flush() -> App:
    return cache_app(marks_after_flush=True)


class WriteBehindMachine(ConsumerMachine):
    app = marks_after_flush
    topic = "prices"
    partitions = 2
    values = st.integers(0, 99)
    keys = st.sampled_from(["a", "b", "c", "d"])
    end = "stop"  # the cache is written in shutdown

    def check_at_end(self, kafka: Harness) -> None:
        latest = {m.key: m.payload for m in kafka.topic("prices")}
        store = kafka.app.store  # type: ignore[attr-defined]
        assert store == latest, f"store {store} != latest {latest}"


class CommitFirstMachine(WriteBehindMachine):
    app = marks_on_return
    shrink_budget = SHRINK_BUDGET


def test_committing_a_cache_before_writing_it_leaves_the_store_stale_seen_by_the_oracle(
) -> None:
    caught(CommitFirstMachine, "!= latest")


def test_marking_after_the_flush_passes() -> None:
    passes(WriteBehindMachine)
