"""Virtual partitions with state shared across keys: a per-partition "last offset done".

The consumer skips redeliveries by remembering the highest offset it wrote, as many do on a
topic without virtual partitions, where a partition's messages come in offset order. With
virtual partitions a partition's batch runs as several jobs side by side, each with some keys'
messages: once one job wrote offset 9, another job's offset 6 looks like a redelivery and is
never written. The correct variant remembers the highest offset per key (the partitioner's
value): one key's messages stay in one virtual partition, in offset order.

Only a user oracle sees it (the consumer read every message: the harness counts it processed).
Push order already shows it (a virtual partition's index says nothing about its offsets); the
machine also draws other orders (``kafka.interleave``), and the per-key variant passes them all.
``self.synchronize()`` around the shared state would not help: the jobs' order is the bug.
The same consumer written ``async def`` is caught the same way, by the same machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Message, Messages, VirtualPartitions
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import SHRINK_BUDGET, app, caught, passes


def high_water_app(per_key: bool, awaiting: bool = False) -> App:
    """Writes each message once by offset, skipping those at or below the mark it keeps.

    ``awaiting``: the same consumer as ``async def`` (its write awaited).
    """
    written: set[int] = set()
    done_up_to: dict[Any, int] = {}  # durable in the real thing (a row per partition)

    def skipped(message: Message) -> bool:
        mark = (message.partition, message.key if per_key else None)
        if message.offset <= done_up_to.get(mark, -1):
            return True  # taken for a redelivery
        done_up_to[mark] = message.offset
        return False

    class Skipping(Consumer):
        def consume(self, messages: Messages) -> None:
            written.update(m.offset for m in messages if not skipped(m))

    class AwaitingSkipping(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                if not skipped(message):
                    await asyncio.sleep(0)  # the write
                    written.add(message.offset)

    built = app("high-water", "orders", AwaitingSkipping if awaiting else Skipping,
                virtual_partitions=VirtualPartitions(max_partitions=3))
    built.written = written  # type: ignore[attr-defined]
    return built


def marks_per_key() -> App:
    return high_water_app(per_key=True)


def marks_per_partition() -> App:
    return high_water_app(per_key=False)


def awaits_marks_per_key() -> App:
    return high_water_app(per_key=True, awaiting=True)


def awaits_marks_per_partition() -> App:
    return high_water_app(per_key=False, awaiting=True)


class HighWaterMachine(ConsumerMachine):
    app = marks_per_key
    topic = "orders"
    values = st.integers(0, 5)

    def key_of(self, value: Any, key: Any) -> Any:
        return f"customer-{value}"  # every message keyed: unkeyed ones have no order

    def check_at_end(self, kafka: Harness) -> None:
        written = kafka.app.written  # type: ignore[attr-defined]
        missing = [m.offset for m in kafka.topic("orders") if m.offset not in written]
        assert not missing, f"offsets never written: {missing}"


class SharedHighWaterMachine(HighWaterMachine):
    app = marks_per_partition
    shrink_budget = SHRINK_BUDGET


def test_a_high_water_mark_shared_across_virtual_partitions_skips_messages() -> None:
    caught(SharedHighWaterMachine, "offsets never written")


def test_a_high_water_mark_per_key_passes_in_any_interleaving() -> None:
    passes(HighWaterMachine)


class AsyncHighWaterMachine(HighWaterMachine):
    app = awaits_marks_per_key


class AsyncSharedHighWaterMachine(HighWaterMachine):
    app = awaits_marks_per_partition
    shrink_budget = SHRINK_BUDGET


def test_the_machine_finds_the_same_bug_in_an_async_consumer_unchanged() -> None:
    caught(AsyncSharedHighWaterMachine, "offsets never written")


def test_the_async_per_key_variant_passes_in_any_interleaving() -> None:
    passes(AsyncHighWaterMachine)
