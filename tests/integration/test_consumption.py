"""Real messages through the whole engine: exactly once, in order, committed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine import Consumer, Messages
from tests.integration.conftest import committed, make_app, produce, wait_until


@pytest.mark.parametrize(("partitions", "concurrency"), [(6, 1), (6, 4)])
def test_every_message_once_in_partition_order_and_committed(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    partitions: int, concurrency: int,
) -> None:
    topic, group, count = make_topic(partitions), unique("g"), 3000
    written = produce(bootstrap, topic, [(str(i % 50).encode(), b'{"n": %d}' % i)
                                         for i in range(count)])
    seen: dict[int, list[int]] = {}
    by_key: dict[str, list[tuple[int, int, int]]] = {}  # key -> (n, partition, offset)
    lock = threading.Lock()

    class Collect(Consumer):
        def consume(self, messages: Messages) -> None:
            with lock:
                seen.setdefault(self.partition, []).extend(m.offset for m in messages)
                for message in messages:
                    by_key.setdefault(message.key, []).append(
                        (message.payload["n"], message.partition, message.offset))

    app = make_app(bootstrap, group, concurrency=concurrency, max_messages=200)
    app.topic(topic, Collect)
    app.start()
    try:
        wait_until(lambda: sum(map(len, seen.values())) >= count, message=f"{count} messages")
    finally:
        app.stop()
    assert app.state == "terminated"
    assert {p: offsets for p, offsets in seen.items()} == written  # once each, in order
    disordered = {key: seen_ for key, seen_ in by_key.items() if seen_ != sorted(seen_)}
    # the whole (n, partition, offset) story of a bad key tells a partitioner that saw fewer
    # partitions (a key on two partitions) from a retried produce request (out of order)
    assert disordered == {}, f"per-key order broken: {dict(list(disordered.items())[:1])}"
    ends = {p: offsets[-1] + 1 for p, offsets in written.items()}
    assert committed(bootstrap, group, topic, partitions) == {
        p: ends.get(p, -1001) for p in range(partitions)
    }
