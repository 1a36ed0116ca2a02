"""Several connections of one subscription group: members that share its partitions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine import Consumer, Messages
from tests.integration.conftest import committed, make_app, produce, wait_until


def test_three_connections_share_the_partitions_and_deliver_each_message_once_in_order(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group, count = make_topic(6), unique("g"), 1200
    written = produce(bootstrap, topic, [(str(i % 30).encode(), b"%d" % i)
                                         for i in range(count)])
    seen: dict[int, list[int]] = {}
    lock = threading.Lock()
    holding: dict[str, set[int]] = {}  # connection -> the partitions it holds now

    class Collect(Consumer):
        def consume(self, messages: Messages) -> None:
            with lock:
                seen.setdefault(self.partition, []).extend(m.offset for m in messages)

    def assigned(_sender: Any, **event: Any) -> None:
        with lock:
            held = holding.setdefault(event["subscription_group"], set())
            held.update(partition for _topic, partition in event["partitions"])

    def taken(_sender: Any, **event: Any) -> None:
        with lock:
            held = holding.setdefault(event["subscription_group"], set())
            held.difference_update(partition for _topic, partition in event["partitions"])

    def spread() -> bool:
        with lock:
            return sorted(map(len, holding.values())) == [2, 2, 2]

    app = make_app(bootstrap, group, connections=3, max_messages=50)
    app.topic(topic, Collect)
    app.monitor.subscribe("rebalance.partitions_assigned", assigned)
    app.monitor.subscribe("rebalance.partitions_revoked", taken)
    app.monitor.subscribe("rebalance.partitions_lost", taken)
    app.start()
    try:
        wait_until(spread, message="each of the 3 connections holding 2 of the 6 partitions")
        wait_until(lambda: sum(map(len, seen.values())) >= count, message=f"{count} messages")
    finally:
        app.stop()
    assert app.state == "terminated"
    assert seen == written  # once each, in partition order, across rebalances between them
    assert set(holding) == {f"{group}/default#{index}" for index in (1, 2, 3)}
    ends = {p: offsets[-1] + 1 for p, offsets in written.items()}
    assert committed(bootstrap, group, topic, 6) == {p: ends.get(p, -1001) for p in range(6)}
