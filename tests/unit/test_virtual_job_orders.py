"""Any order of a batch's virtual partition jobs, with failures: commits never pass unprocessed
messages, each key's messages are first processed in offset order, and everything ends done."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import App, Consumer, Messages, VirtualPartitions
from engine.connection.partition_effects import apply_effects
from engine.virtual.metadata import decode
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.served import served
from tests.unit.test_virtual_runtime import fail_once


class Book:
    """What one example processed, and every store that passed an unprocessed offset."""

    def __init__(self, failing: set[int]) -> None:
        self.processed: set[int] = set()
        self.first_order: dict[str, list[int]] = {}
        self.failing = set(failing)  # each fails once
        self.violations: list[tuple[int, int]] = []


def checking_client(book: Book) -> FakeClient:
    class Checking(FakeClient):
        def store_offset(self, topic: str, partition: int, offset: int,
                         metadata: str | None = None) -> bool:
            done_above = decode(metadata, offset) or set()
            book.violations += [(offset, o) for o in [*range(offset), *done_above]
                                if o not in book.processed]
            return super().store_offset(topic, partition, offset, metadata)

    return Checking()


def consumer_class(book: Book, marks_each: bool) -> type[Consumer]:
    class Ledger(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                fail_once(book.failing, message.offset)
                if message.offset not in book.processed:
                    book.first_order.setdefault(message.key, []).append(message.offset)
                book.processed.add(message.offset)
                if marks_each:
                    self.mark_as_consumed(message)

    return Ledger


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=40),
       failing=st.sets(st.integers(0, 39), max_size=4), batch_size=st.integers(1, 12),
       marks_each=st.booleans(), manual=st.booleans(), seed=st.integers(0, 2**32 - 1),
       partitions=st.integers(1, 4), distribution=st.sampled_from(["consistent", "balanced"]))
def test_any_job_order_keeps_commits_below_unprocessed_messages(
    keys: list[str], failing: set[int], batch_size: int, marks_each: bool, manual: bool,
    seed: int, partitions: int, distribution: str,
) -> None:
    count = len(keys)
    marks_each = marks_each or manual  # a manual consumer that marks nothing never commits
    book = Book({offset for offset in failing if offset < count})
    app = App(kafka=BOOTSTRAP, concurrency=partitions)
    route = app.topic("t", consumer_class(book, marks_each), manual_offset_management=manual,
                      virtual_partitions=VirtualPartitions(max_partitions=partitions,
                                                           distribution=distribution))
    client = checking_client(book)
    entry = served(app, route, 0, client)
    assert entry.virtual is not None
    shuffle = random.Random(seed).shuffle
    position = 0
    for _ in range(10 * count + 20):
        if position >= count:
            break
        if entry.state.paused_until is not None:  # its back-off is over at once here
            apply_effects(client, entry.state, entry.state.end_pause())
        last = min(position + batch_size, count) - 1
        raws = [FakeRaw("t", 0, offset, key=keys[offset].encode())
                for offset in range(position, last + 1)]
        messages = entry.executor.batch(raws, 0.0)
        assert entry.state.start(position, last)
        jobs: list[Any] = entry.virtual.jobs(messages, "g", entry.strategy)
        shuffle(jobs)  # any order the workers might finish them in
        for job in jobs:
            job.run()
        for job in jobs:
            apply_effects(client, entry.state, job.context.take_effects())
        entry.virtual.settle(entry.strategy)
        apply_effects(client, entry.state, entry.context.take_effects())
        position = client.positions.pop(("t", 0), last + 1)  # where a seek (a retry) went
    assert book.violations == []
    assert book.processed == set(range(count))
    assert client.stored[("t", 0)] == count
    for key, offsets in book.first_order.items():
        assert offsets == sorted(offsets), key
