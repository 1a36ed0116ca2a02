"""Virtual partitions on a long-running topic: held while they run, settled after the last."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from engine import App, Consumer, Messages, VirtualPartitions
from engine.processing.partitions import Served
from tests.conftest import BOOTSTRAP
from tests.unit.test_virtual_runtime import (
    DEADLINE,
    Running,
    keyed,
    record_then_fail_once,
    run_in_harness,
)

COUNT = 4  # virtual partitions (and workers)


class Gated(Consumer):
    """Each virtual partition waits at its own gate, then records and may fail once."""

    gates: ClassVar[dict[int, threading.Event]] = {}
    entered: ClassVar[set[int]] = set()
    seen: ClassVar[list[tuple[int, bool, list[int]]]] = []
    revoked_hooks: ClassVar[list[tuple[int, bool]]] = []
    fail_once: ClassVar[set[int]] = set()
    marked: ClassVar[list[bool]] = []
    lock = threading.Lock()

    def consume(self, messages: Messages) -> None:
        offsets = [message.offset for message in messages]
        with self.lock:
            Gated.entered.add(self.virtual_partition)
        gate = Gated.gates.get(self.virtual_partition)
        if gate is not None:
            assert gate.wait(DEADLINE)
        record_then_fail_once(Gated, self, offsets)
        if self.is_revoked:
            with self.lock:
                Gated.marked.append(self.mark_as_consumed(messages[0]))

    def revoked(self) -> None:
        with self.lock:
            Gated.revoked_hooks.append((self.virtual_partition, self.is_revoked))


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    Gated.gates = {index: threading.Event() for index in range(COUNT)}
    Gated.entered, Gated.seen, Gated.revoked_hooks = set(), [], []
    Gated.fail_once, Gated.marked = set(), []
    yield
    for gate in Gated.gates.values():
        gate.set()


def long_running(consumer: type[Consumer] = Gated, count: int = COUNT) -> Running:
    """A listener (opened on this thread: it makes the long jobs' calls) of a long VP topic
    with ``count`` virtual partitions and as many workers."""
    running = Running(consumer, concurrency=count, long_running_job=True,
                      virtual_partitions=VirtualPartitions(max_partitions=count))
    running.listener.open()
    return running


def iterate_until(running: Running, condition: Callable[[], bool], what: str) -> None:
    """Run empty fetch iterations (the listener serving the jobs' calls) until ``condition``."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        running.listener.iterate()
        time.sleep(0.005)  # a poll's wait, which the fake client does not have


def released(running: Running, raws: list[Any], what: str = "the release") -> Served:
    """Run ``raws`` as one batch and iterate until its partition is released; its entry."""
    running.batch(raws)
    entry = running.listener.partitions.get(("t", 0))
    iterate_until(running, lambda: not entry.state.is_held, what)
    return entry


def entered(count: int) -> Callable[[], bool]:
    def check() -> bool:
        with Gated.lock:
            return len(Gated.entered) == count
    return check


def test_routing_accepts_virtual_partitions_with_long_running_jobs() -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("orders", Gated, virtual_partitions=VirtualPartitions(), long_running_job=True)
    (group,) = app.subscription_groups()
    assert group.topic("orders").long_running_job


def test_the_partition_is_held_while_the_listener_polls_and_settled_after_the_last_job() -> None:
    running = long_running()
    try:
        running.batch(keyed(range(40), keys=40))  # returns at once: the jobs run on
        iterate_until(running, entered(COUNT), "every virtual partition running")
        entry = running.listener.partitions.get(("t", 0))
        assert entry.state.is_held and ("t", 0) in running.client.paused
        running.batch(keyed(range(40, 50), keys=40))  # fetched meanwhile: refused, not run
        for index in range(COUNT - 1):
            Gated.gates[index].set()
        iterate_until(running, lambda: len(Gated.seen) == COUNT - 1, "all but one done")
        running.listener.iterate()
        assert entry.state.is_held  # not settled while one virtual partition still runs
        assert ("resume", "t", 0) not in running.client.calls
        Gated.gates[COUNT - 1].set()
        iterate_until(running, lambda: not entry.state.is_held, "the release")
        assert sorted(o for _, _, offsets in Gated.seen for o in offsets) == list(range(40))
        assert {vp for vp, _, _ in Gated.seen} == set(range(COUNT))
        assert running.client.stored[("t", 0)] == 40
        assert running.client.calls[-2:] == [("seek", "t", 0, 40), ("resume", "t", 0)]
        assert entry.state.attempt == 0 and entry.state.first_unmarked == 40
    finally:
        running.close()


def test_a_failure_is_retried_collapsed_as_a_long_job_too() -> None:
    running = long_running()
    for gate in Gated.gates.values():
        gate.set()
    Gated.fail_once = {6}
    try:
        entry = released(running, keyed(range(12), keys=12), "the first batch settled")
        failed = next(offsets for _, _, offsets in Gated.seen if 6 in offsets)
        assert running.client.stored[("t", 0)] == failed[0]  # the watermark
        retries = [e for name, e in running.events if name == "consumer.consuming.retry"]
        assert [e["offset"] for e in retries] == [failed[0]]
        assert entry.state.paused_until is not None  # the back-off, not the release's resume
        Gated.seen = []
        running.batch(keyed(range(failed[0], 12), keys=12))
        iterate_until(running, lambda: bool(Gated.seen) and not entry.state.is_held,
                      "the collapsed retry settled")
        assert Gated.seen == [(0, True, failed)]  # one instance, offset order, done skipped
        assert running.client.stored[("t", 0)] == 12
        assert entry.state.attempt == 0
    finally:
        running.close()


@pytest.mark.parametrize("lost", [False, True])
def test_a_revocation_meanwhile_refuses_marks_and_reaches_every_instance_after_the_jobs(
    lost: bool,
) -> None:
    # lost or not, the running virtual partitions' work is abandoned: nothing of it is stored
    running = long_running()
    try:
        running.client.rebalance.assigned([("t", 0)])
        running.client.rebalance.take()
        running.batch(keyed(range(40), keys=40))
        iterate_until(running, entered(COUNT), "every virtual partition running")
        running.client.rebalance.revoked([("t", 0)], lost=lost)
        running.listener.iterate()  # the poll reports the revocation
        assert Gated.revoked_hooks == []  # the jobs still run
        for gate in Gated.gates.values():
            gate.set()
        iterate_until(running, lambda: len(Gated.revoked_hooks) == COUNT, "the revoked hooks")
        assert sorted(Gated.revoked_hooks) == [(index, True) for index in range(COUNT)]
        assert Gated.marked == [False] * COUNT
        assert ("t", 0) not in running.client.stored
        assert ("resume", "t", 0) not in running.client.calls  # no longer ours
    finally:
        running.close()


class Seeking(Consumer):
    """Virtual partition 1 seeks to 100; virtual partition 0 marks only after that seek."""

    sought = threading.Event()
    seen: ClassVar[list[int]] = []

    def consume(self, messages: Messages) -> None:
        if messages[0].offset >= 100:
            with Gated.lock:
                Seeking.seen.extend(message.offset for message in messages)
        elif self.virtual_partition == 1:
            self.seek(100)
            Seeking.sought.set()
        else:
            assert Seeking.sought.wait(DEADLINE)  # its mark comes after the seek


def test_a_seek_in_a_virtual_partition_is_kept_by_the_release() -> None:
    Seeking.sought.clear()
    Seeking.seen = []
    running = long_running(Seeking, 2)
    try:
        entry = released(running, keyed(range(10), keys=10))
        assert running.client.positions[("t", 0)] == 100  # not sought back by the release
        running.batch(keyed(range(100, 104), keys=10))
        iterate_until(running, lambda: len(Seeking.seen) == 4 and not entry.state.is_held,
                      "the batch from 100")
        assert sorted(Seeking.seen) == list(range(100, 104))
        assert running.client.stored[("t", 0)] == 104
    finally:
        running.close()


def test_the_testing_kits_harness_runs_long_virtual_partitions_and_their_retries() -> None:
    Gated.gates = {}
    Gated.fail_once = {7}
    assert run_in_harness(Gated, long_running_job=True) == 20
    assert {o for _, _, offsets in Gated.seen for o in offsets} == set(range(20))
    assert any(collapsed and 7 in offsets for _, collapsed, offsets in Gated.seen)


def test_a_pause_in_a_long_virtual_partition_outlasts_the_release_and_skips_its_mark() -> None:
    class Pausing(Consumer):
        def consume(self, messages: Messages) -> None:
            with Gated.lock:
                Gated.seen.append((self.virtual_partition, False,
                                   [message.offset for message in messages]))
            if self.virtual_partition == 0:
                self.pause(timeout=30.0)

    running = long_running(Pausing, 2)
    try:
        entry = released(running, keyed(range(10), keys=10))
        first_of_0 = next(offsets[0] for index, _, offsets in Gated.seen if index == 0)
        assert entry.state.pause_is_manual and ("t", 0) in running.client.paused
        assert ("resume", "t", 0) not in running.client.calls  # the pause goes on
        assert running.client.stored[("t", 0)] == first_of_0  # the paused one not marked
    finally:
        running.close()
