"""A second member of the group on the embedded broker and in the harness must agree.

Two real apps in one consumer group against ``kafka.join()`` / ``kafka.leave()``: the same
partition moved, the same hooks run, the same committed offsets after each handover, every
message processed once. A broker orders members by their random ids, so which partition
moves may differ: partitions are compared by role ("kept" by the first member, "moved").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from engine import App, Consumer, Messages
from engine.testing import Harness
from tests.integration.conftest import Recorder, committed, make_app, produce, wait_until

PER_PARTITION = 4
Trace = list[tuple[int, str, int, int | None]]
"""(member, "consume" / "revoked" / "shutdown", partition, offset or None)."""


def member_app(bootstrap: str, group: str, topic: str, strategy: str, number: int,
               trace: Trace, lock: threading.Lock) -> App:
    class Traced(Consumer):
        def consume(self, messages: Messages) -> None:
            with lock:
                trace.extend((number, "consume", m.partition, m.offset) for m in messages)

        def revoked(self) -> None:
            with lock:
                trace.append((number, "revoked", self.partition, None))

        def shutdown(self) -> None:
            with lock:
                trace.append((number, "shutdown", self.partition, None))

    app = make_app(bootstrap, group, kafka={"partition.assignment.strategy": strategy})
    app.topic(topic, Traced)
    return app


def by_role(trace: Trace, moved: int) -> list[tuple[int, str, str, int | None]]:
    """The trace with partitions named by role, each member's events in order."""
    named = [(member, event, "moved" if partition == moved else "kept", offset)
             for member, event, partition, offset in trace]
    return sorted(named, key=lambda entry: (entry[0], entry[2], entry[1], entry[3] or -1))


def consumed(trace: Trace, member: int) -> int:
    return sum(1 for entry in trace if entry[0] == member and entry[1] == "consume")


def on_broker(bootstrap: str, topic: str, group: str, strategy: str) -> dict[str, Any]:
    trace: Trace = []
    lock = threading.Lock()
    wave = [b"{}"] * PER_PARTITION
    for partition in (0, 1):
        produce(bootstrap, topic, wave, partition=partition)
    first = member_app(bootstrap, group, topic, strategy, 0, trace, lock)
    second = member_app(bootstrap, group, topic, strategy, 1, trace, lock)
    joined = Recorder(second)
    first.start()
    try:
        wait_until(lambda: consumed(trace, 0) == 2 * PER_PARTITION, message="the first wave")
        second.start()
        wait_until(lambda: any(e["partitions"] for e in
                               joined.of("rebalance.partitions_assigned")),
                   message="the second member's assignment")
        moved = joined.of("rebalance.partitions_assigned")[-1]["partitions"][0][1]
        after_join = committed(bootstrap, group, topic, 2)[moved]
        for partition in (0, 1):
            produce(bootstrap, topic, wave, partition=partition)
        wait_until(lambda: consumed(trace, 0) + consumed(trace, 1) == 4 * PER_PARTITION,
                   message="the second wave, split between the members")
        second.stop()
        after_leave = committed(bootstrap, group, topic, 2)[moved]
        for partition in (0, 1):
            produce(bootstrap, topic, wave, partition=partition)
        wait_until(lambda: consumed(trace, 0) + consumed(trace, 1) == 6 * PER_PARTITION,
                   message="the third wave, all back with the first member")
    finally:
        for app in (second, first):
            if app.state == "running":
                app.stop()
    return outcome(trace, moved, after_join, after_leave)


def on_harness(bootstrap: str, strategy: str) -> dict[str, Any]:
    trace: Trace = []
    app = member_app(bootstrap, "harness", "orders", strategy, 0, trace, threading.Lock())
    numbered: Trace = []
    with Harness(app, partitions={"orders": 2}) as kafka:
        def wave() -> None:
            for partition in (0, 1):
                for _ in range(PER_PARTITION):
                    kafka.produce("orders", {}, partition=partition)

        def settled(shutdown_by: int = 0) -> None:
            """Number what ran since: batches by the history's member, ``revoked`` by the
            first member (the second one never gives a partition away: it leaves), and
            ``shutdown`` by the member stopping."""
            for _, event, partition, offset in trace[len(numbered):]:
                if event == "consume":
                    member = next(d.member for d in reversed(kafka.history.deliveries)
                                  if (d.partition, d.offset) == (partition, offset))
                else:
                    member = shutdown_by if event == "shutdown" else 0
                numbered.append((member, event, partition, offset))

        wave()
        kafka.run()
        member = kafka.join()
        settled()
        moved = kafka.assignment("orders")[member][0]
        after_join = kafka.committed("orders", moved)
        wave()
        kafka.run()
        settled()
        kafka.leave(member)
        settled(shutdown_by=member)
        after_leave = kafka.committed("orders", moved)
        wave()
        kafka.run()
        kafka.stop()
        settled()
        kafka.history.check()
        assert kafka.history.duplicates() == []
    return outcome(numbered, moved, after_join, after_leave)


def outcome(trace: Trace, moved: int, after_join: int | None,
            after_leave: int | None) -> dict[str, Any]:
    kept = 1 - moved

    def offsets(member: int, partition: int) -> list[int | None]:
        return [o for m, e, p, o in trace if (m, e, p) == (member, "consume", partition)]

    return {
        "revoked from the first member": sorted(
            "moved" if p == moved else "kept" for m, e, p, _ in trace if (m, e) == (0, "revoked")),
        "second member's hooks": [(e, "moved" if p == moved else "kept")
                                  for m, e, p, _ in trace if m == 1 and e != "consume"],
        "moved: second member's offsets": offsets(1, moved),
        "moved: first member's offsets": offsets(0, moved),
        "kept: first member's offsets": offsets(0, kept),
        "moved: committed after the join": after_join,
        "moved: committed after the leave": after_leave,
    }


@pytest.mark.parametrize("strategy", ["cooperative-sticky", "range"])
def test_a_second_member_joining_and_leaving_agrees_with_a_real_group(
    strategy: str, bootstrap: str, make_topic: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    real = on_broker(bootstrap, make_topic(2), unique("g"), strategy)
    simulated = on_harness(bootstrap, strategy)
    assert simulated == real
    # nothing lost, nothing twice: every offset of the moved partition once, in order
    assert (real["moved: first member's offsets"][:PER_PARTITION]
            + real["moved: second member's offsets"]
            + real["moved: first member's offsets"][PER_PARTITION:]) == list(
                range(3 * PER_PARTITION))
