"""Virtual partitions at run time: routing, the split into jobs, marks, settling and retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import pytest

from engine import App, Consumer, DeadLetterQueue, Messages, RoutingError, VirtualPartitions
from engine.connection.listener import Listener
from engine.processing.jobs_queue import JobsQueue, LoopSubmit
from engine.processing.workers_pool import WorkersPool
from engine.virtual.metadata import decode, encode
from engine.virtual.stable_hash import stable_index
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient

DEADLINE = 10.0


class Book(Protocol):
    """Where a test consumer class records what its instances got (its class attributes)."""

    seen: list[tuple[int, bool, list[int]]]  # (virtual partition, collapsed, offsets)
    fail_once: set[int]
    lock: threading.Lock


def record_then_fail_once(book: Book, consumer: Consumer, offsets: list[int]) -> None:
    """Record ``offsets`` in ``book``; raise if some are in its ``fail_once`` (once each)."""
    with book.lock:
        book.seen.append((consumer.virtual_partition, consumer.collapsed, offsets))
        failing = book.fail_once.intersection(offsets)
        book.fail_once -= failing
    if failing:
        raise RuntimeError(f"failing {sorted(failing)}")


def fail_once(failing: set[int], offset: int) -> None:
    """Raise if ``offset`` is in ``failing``, taking it out: each of them fails once."""
    if offset in failing:
        failing.discard(offset)
        raise RuntimeError(f"failing {offset}")


class Recording(Consumer):
    """Records what each instance consumed; fails offsets in ``fail_once`` one time each."""

    seen: ClassVar[list[tuple[int, bool, list[int]]]] = []
    fail_once: ClassVar[set[int]] = set()
    lock = threading.Lock()

    def consume(self, messages: Messages) -> None:
        record_then_fail_once(Recording, self, [message.offset for message in messages])


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    Recording.seen, Recording.fail_once = [], set()
    yield


def keyed(offsets: range, keys: int, partition: int = 0) -> list[Any]:
    """Messages of topic "t" whose key cycles over ``keys`` values."""
    return [FakeRaw("t", partition, offset, key=b"k%d" % (offset % keys)) for offset in offsets]


class Running:
    """A listener of topic "t" with virtual partitions on a FakeClient, and its workers."""

    def __init__(self, consumer: type[Consumer], client_class: type[FakeClient] = FakeClient,
                 concurrency: int = 4, loop: LoopSubmit | None = None,
                 clock: Any = None, shutdown_timeout: float = 60.0, **route: Any) -> None:
        self.app = App(kafka=BOOTSTRAP, concurrency=concurrency, pause_timeout=1.0,
                       shutdown_timeout=shutdown_timeout)
        route.setdefault("virtual_partitions", VirtualPartitions())
        self.app.topic("t", consumer, **route)
        (group,) = self.app.subscription_groups()
        self.queue = JobsQueue(loop)
        self.workers = WorkersPool(self.queue, self.app.monitor)
        self.workers.scale(concurrency)
        timing = {} if clock is None else {"clock": clock}
        self.listener = Listener(group, self.queue, self.app.monitor, self.app.settings,
                                 self.app.producer, client_factory=client_class,  # type: ignore[arg-type]
                                 **timing)
        client = self.listener.client
        assert isinstance(client, FakeClient)
        self.client = client
        self.events: list[tuple[str, dict[str, Any]]] = []
        for name in ("consumer.consume", "consumer.consumed", "error.occurred",
                     "consumer.consuming.retry", "dead_letter_queue.dispatched"):
            self.app.monitor.subscribe(name, self._record(name))

    def _record(self, name: str) -> Any:
        return lambda sender, **event: self.events.append((name, event))

    def batch(self, raws: list[Any]) -> None:
        """Poll ``raws`` as one fetch and run the iteration (the pause, if any, ended first)."""
        entry = self.listener.partitions.get(("t", 0)) if ("t", 0) in self.listener.partitions \
            else None
        if entry is not None:
            entry.state.resume()  # a retry's back-off is not what these tests wait for
        self.client.polls.append(raws)
        self.listener.iterate()

    def close(self) -> None:
        self.queue.close()
        assert self.workers.join(DEADLINE)


# -- routing -----------------------------------------------------------------------------------


def test_routing_names_the_topic_and_every_problem() -> None:
    app = App(kafka=BOOTSTRAP)
    wrong = VirtualPartitions(partitioner=3, max_partitions=0,  # type: ignore[arg-type]
                              distribution="random")
    with pytest.raises(RoutingError) as raised:
        app.topic("orders", Recording, virtual_partitions=wrong)
    text = str(raised.value)
    assert text.startswith("topic 'orders':")
    assert "partitioner must be callable" in text and "max_partitions" in text
    assert "distribution" in text


def test_routing_refuses_a_value_of_another_type() -> None:
    app = App(kafka=BOOTSTRAP)
    with pytest.raises(RoutingError, match=r"must be an engine\.VirtualPartitions"):
        app.topic("orders", Recording, virtual_partitions=16)  # type: ignore[arg-type]


def test_max_partitions_none_means_the_apps_concurrency() -> None:
    running = Running(Recording, concurrency=3)
    try:
        running.batch(keyed(range(30), keys=30))
        assert {index for index, _, _ in Recording.seen} == {0, 1, 2}
    finally:
        running.close()


def test_the_instances_of_one_partition_share_one_synchronize_lock() -> None:
    locks: dict[int, Any] = {}

    class Locking(Recording):
        def consume(self, messages: Messages) -> None:
            # reentrant: a helper called inside may take it again
            with self.synchronize(), self.synchronize():
                runtime: Any = self._runtime
                locks[self.virtual_partition] = runtime.shared_lock

    running = Running(Locking, concurrency=3)
    try:
        running.batch(keyed(range(30), keys=30))
        assert len(locks) == 3 and len({id(lock) for lock in locks.values()}) == 1
    finally:
        running.close()


def test_ordinary_consumers_see_virtual_partition_0_and_a_lock_free_synchronize() -> None:
    consumer = Recording()
    assert consumer.virtual_partition == 0 and consumer.collapsed is False
    with consumer.synchronize():
        pass


# -- the split into jobs -----------------------------------------------------------------------


def test_a_batch_runs_one_instance_per_virtual_partition_keys_in_order() -> None:
    running = Running(Recording, concurrency=4)
    try:
        running.batch(keyed(range(40), keys=7))
        instances = {index: offsets for index, collapsed, offsets in Recording.seen}
        assert len(Recording.seen) == len(instances)  # one job per virtual partition
        for index, offsets in instances.items():
            assert offsets == sorted(offsets)
            assert {stable_index(f"k{o % 7}", 4) for o in offsets} == {index}
        assert sorted(o for offsets in instances.values() for o in offsets) == list(range(40))
        assert running.client.stored == {("t", 0): 40}
        assert running.client.metadata == {("t", 0): None}  # nothing done above the watermark
        consumed = [e for name, e in running.events if name == "consumer.consumed"]
        assert sorted(e["virtual_partition"] for e in consumed) == sorted(instances)
        entry = running.listener.partitions.get(("t", 0))
        assert entry.state.first_unmarked == 40 and entry.state.attempt == 0
    finally:
        running.close()


def test_instances_are_kept_across_batches() -> None:
    instances: set[int] = set()

    class Counting(Recording):
        def consume(self, messages: Messages) -> None:
            instances.add(id(self))

    running = Running(Counting, concurrency=2)
    try:
        running.batch(keyed(range(10), keys=10))
        running.batch(keyed(range(10, 20), keys=10))
        assert len(instances) == 2
    finally:
        running.close()


def test_an_ordinary_topics_events_carry_no_virtual_partition() -> None:
    running = Running(Recording, virtual_partitions=None)
    try:
        running.batch(keyed(range(3), keys=3))
        assert all("virtual_partition" not in event for _, event in running.events)
    finally:
        running.close()


# -- settling: failure, collapsed retry, passing -------------------------------------------------


def test_a_failure_retries_from_the_watermark_collapsed_then_splits_again() -> None:
    running = Running(Recording, concurrency=4)
    try:
        Recording.fail_once = {6}
        running.batch(keyed(range(12), keys=12))
        first = dict((i, o) for i, _, o in Recording.seen)
        failing_vp = next(i for i, o in first.items() if 6 in o)
        failed = first[failing_vp]  # its job failed whole: none of it was marked
        restart = failed[0]
        retry = [e for name, e in running.events if name == "consumer.consuming.retry"]
        assert [e["offset"] for e in retry] == [restart]  # the watermark
        assert running.client.stored[("t", 0)] == restart
        done_above = decode(running.client.metadata[("t", 0)], restart)
        assert done_above == set(range(restart + 1, 12)) - set(failed)
        assert ("seek", "t", 0, restart) in running.client.calls
        Recording.seen = []
        running.batch(keyed(range(restart, 12), keys=12))  # collapsed, done ones skipped
        assert Recording.seen == [(0, True, failed)]
        assert running.client.stored[("t", 0)] == 12
        Recording.seen = []
        running.batch(keyed(range(12, 20), keys=12))  # past the failing offset: split again
        assert all(not collapsed for _, collapsed, _ in Recording.seen)
        assert len(Recording.seen) > 1
        assert not any(name == "dead_letter_queue.dispatched" for name, _ in running.events)
    finally:
        running.close()


class MarkingEach(Recording):
    """Marks each message once processed: the failing one is then the first unmarked."""

    def consume(self, messages: Messages) -> None:
        for message in messages:
            fail_once(Recording.fail_once, message.offset)
            self.mark_as_consumed(message)


def test_a_collapsed_retry_dead_letters_like_an_ordinary_topic() -> None:
    produced: list[Any] = []
    running = Running(MarkingEach, concurrency=4,
                      dead_letter_queue=DeadLetterQueue("dlq", max_retries=1))
    running.app.producer.dispatch = (  # type: ignore[method-assign]
        lambda message, *rest: produced.append(message.offset))
    try:
        Recording.fail_once = {3}
        running.batch(keyed(range(8), keys=8))  # attempt 1, split: never the DLQ
        assert produced == []
        restart = running.client.stored[("t", 0)]
        Recording.fail_once = {3}
        running.batch(keyed(range(restart, 8), keys=8))  # attempt 2, collapsed: dead-lettered
        assert produced == [3]  # as an ordinary topic: after max_retries=1 retry
        assert running.client.stored[("t", 0)] >= 4
    finally:
        running.close()


def test_a_partitioner_that_raises_fails_the_batch_reported_then_runs_collapsed() -> None:
    def partitioner(message: Any) -> Any:
        if message.offset == 2:
            raise KeyError("no key")
        return message.key

    running = Running(Recording, virtual_partitions=VirtualPartitions(partitioner=partitioner))
    try:
        running.batch(keyed(range(5), keys=5))
        errors = [e for name, e in running.events if name == "error.occurred"]
        assert [(e["type"], e["offset"]) for e in errors] == [("consumer.consume.error", 2)]
        assert Recording.seen == []
        running.batch(keyed(range(5), keys=5))
        assert Recording.seen == [(0, True, [0, 1, 2, 3, 4])]
        assert running.client.stored[("t", 0)] == 5
    finally:
        running.close()


def first_batch_after_commit(offset: int, done: list[int]) -> tuple[list[int], int | None]:
    """Offsets 10..15 as the first batch after a commit of ``offset`` with ``done`` in its
    metadata: the offsets consumed, sorted, and the offset stored after it."""
    class Committed(FakeClient):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.commits[("t", 0)] = (offset, encode(offset, done))

    running = Running(Recording, client_class=Committed)
    try:
        running.batch(keyed(range(10, 16), keys=6))
        consumed = sorted(o for _, _, offsets in Recording.seen for o in offsets)
        return consumed, running.client.stored.get(("t", 0))
    finally:
        running.close()


def test_the_first_batch_skips_what_the_commit_metadata_says_is_done() -> None:
    assert first_batch_after_commit(10, [11, 13]) == ([10, 12, 14, 15], 16)


def test_metadata_of_another_offset_is_ignored() -> None:
    consumed, _ = first_batch_after_commit(8, [11, 13])  # not at the commit: nothing skipped
    assert consumed == list(range(10, 16))


# -- marks under concurrency ---------------------------------------------------------------------


class Processed:
    """Offsets processed so far, shared by the consumers and the checking client."""

    offsets: ClassVar[set[int]] = set()
    lock = threading.Lock()


class Checking(FakeClient):
    """Records every store that passes an offset not processed yet."""

    violations: ClassVar[list[int]] = []

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.metadata_history: list[str | None] = []

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        with Processed.lock:
            missing = [o for o in range(offset) if o not in Processed.offsets]
            done = decode(metadata, offset) or set()
            missing += [o for o in done if o not in Processed.offsets]
        Checking.violations += missing
        self.metadata_history.append(metadata)
        return super().store_offset(topic, partition, offset, metadata)


class Marking(Consumer):
    """Marks each message as it goes; virtual partition i waits for i + 1 to finish first."""

    finished: ClassVar[dict[int, threading.Event]] = {}

    def consume(self, messages: Messages) -> None:
        later = Marking.finished.get(self.virtual_partition + 1)
        if later is not None:
            assert later.wait(DEADLINE)
        for message in messages:
            with Processed.lock:
                Processed.offsets.add(message.offset)
            self.mark_as_consumed(message)
        Marking.finished[self.virtual_partition].set()


def test_concurrent_marks_never_store_past_an_unprocessed_offset() -> None:
    Processed.offsets, Checking.violations = set(), []
    count = 4
    Marking.finished = {index: threading.Event() for index in range(count)}
    running = Running(Marking, client_class=Checking, concurrency=count)
    try:
        raws = keyed(range(200), keys=50)
        running.batch(raws)
        assert Checking.violations == []
        assert running.client.stored[("t", 0)] == 200
        # the last virtual partition finished first: the stores carried metadata meanwhile
        assert any(value is not None for value in running.client.metadata_history)
    finally:
        running.close()


# -- hooks, pause and seek ---------------------------------------------------------------------


def test_a_revocation_reaches_every_virtual_partitions_instance() -> None:
    revoked: list[int] = []

    class Revocable(Recording):
        def revoked(self) -> None:
            with self.lock:
                revoked.append(self.virtual_partition)

    running = Running(Revocable, concurrency=3)
    try:
        running.client.rebalance.assigned([("t", 0)])
        running.client.rebalance.take()
        running.batch(keyed(range(30), keys=30))
        running.client.rebalance.revoked([("t", 0)], lost=False)
        running.listener.after_rebalance([])
        assert sorted(revoked) == [0, 1, 2]
    finally:
        running.close()


def test_a_pause_in_one_virtual_partition_pauses_the_partition_and_skips_its_mark() -> None:
    class Pausing(Recording):
        def consume(self, messages: Messages) -> None:
            super().consume(messages)
            if self.virtual_partition == 0:
                self.pause(timeout=30.0)

    running = Running(Pausing, concurrency=2)
    try:
        running.batch(keyed(range(10), keys=10))
        first_of_0 = next(offsets[0] for index, _, offsets in Recording.seen if index == 0)
        assert ("t", 0) in running.client.paused
        stored = running.client.stored[("t", 0)]
        assert stored == first_of_0  # the other virtual partition marked; the paused one not
        entry = running.listener.partitions.get(("t", 0))
        assert entry.state.pause_is_manual
    finally:
        running.close()


def test_a_seek_in_a_virtual_partition_moves_the_partition_and_restarts_the_watermark() -> None:
    class Seeking(Recording):
        def consume(self, messages: Messages) -> None:
            super().consume(messages)
            if self.virtual_partition == 1 and messages[0].offset < 100:
                self.seek(100)

    running = Running(Seeking, concurrency=2)
    try:
        running.batch(keyed(range(10), keys=10))
        assert running.client.positions[("t", 0)] == 100
        Recording.seen = []
        running.batch(keyed(range(100, 104), keys=10))
        assert sorted(o for _, _, offsets in Recording.seen for o in offsets) == list(
            range(100, 104))
        assert running.client.stored[("t", 0)] == 104  # not held by what the seek skipped
    finally:
        running.close()


def test_the_hooks_pause_and_seek_events_of_an_instance_name_its_virtual_partition() -> None:
    class PausingAndSeeking(Recording):
        def consume(self, messages: Messages) -> None:
            super().consume(messages)
            if self.virtual_partition == 0:
                self.pause(timeout=30.0)
            else:
                self.seek(100)

    running = Running(PausingAndSeeking, concurrency=2)
    named: dict[str, list[object]] = {}
    names = ("consumer.initialized", "consumer.consuming.pause", "consumer.consuming.seek",
             "consumer.revoke", "consumer.revoked")

    def receiver(name: str) -> Any:
        def receive(sender: Any, **event: Any) -> None:
            named.setdefault(name, []).append(event.get("virtual_partition"))
        return receive

    receivers = [receiver(name) for name in names]  # kept: the monitor holds them weakly
    for name, receive in zip(names, receivers, strict=True):
        running.app.monitor.subscribe(name, receive)
    try:
        running.client.rebalance.assigned([("t", 0)])
        running.client.rebalance.take()
        running.batch(keyed(range(10), keys=10))
        running.client.rebalance.revoked([("t", 0)], lost=False)
        running.listener.after_rebalance([])
    finally:
        running.close()
    assert {name: sorted(map(str, found)) for name, found in named.items()} == {
        "consumer.initialized": ["0", "1"], "consumer.consuming.pause": ["0"],
        "consumer.consuming.seek": ["1"], "consumer.revoke": ["0", "1"],
        "consumer.revoked": ["0", "1"]}


def run_in_harness(consumer: type[Consumer], **route: Any) -> int | None:
    """Twenty messages of five keys through the testing kit's harness, on topic "t" with
    virtual partitions and ``route``'s options; its history checked, the offset committed."""
    from engine.testing import Harness

    app = App(kafka=BOOTSTRAP, concurrency=4)
    app.topic("t", consumer, virtual_partitions=VirtualPartitions(), **route)
    with Harness(app, partitions={"t": 1}) as kafka:
        for index in range(20):
            kafka.produce("t", {"i": index}, key=f"k{index % 5}", partition=0)
        kafka.run()
        assert not any(kafka.history.violations().values())
        kafka.stop()
        return kafka.committed("t", 0)


def test_the_testing_kits_harness_runs_virtual_partitions_and_their_retries() -> None:
    Recording.fail_once = {7}
    assert run_in_harness(Recording) == 20
    assert {o for _, _, offsets in Recording.seen for o in offsets} == set(range(20))
    assert any(collapsed and 7 in offsets for _, collapsed, offsets in Recording.seen)


def test_prometheus_labels_nothing_by_virtual_partition_and_counts_them_all() -> None:
    from prometheus_client import CollectorRegistry

    from engine.testing import Harness
    from engine_plugins.prometheus import PrometheusPlugin

    registry = CollectorRegistry()
    app = App(kafka=BOOTSTRAP, concurrency=4, client_id="shop")
    app.use(PrometheusPlugin(registry=registry))
    app.topic("t", Recording, virtual_partitions=VirtualPartitions())
    with Harness(app, partitions={"t": 1}) as kafka:
        for index in range(20):
            kafka.produce("t", {"i": index}, key=f"k{index % 5}", partition=0)
        kafka.run()
        kafka.stop()
    assert len({vp for vp, _, _ in Recording.seen}) > 1  # split: events came from several
    labels = {name for metric in registry.collect() for sample in metric.samples
              for name in sample.labels}
    assert "virtual_partition" not in labels
    assert registry.get_sample_value("engine_messages_consumed_total",
                                     {"consumer_group": "shop", "topic": "t"}) == 20


def test_after_a_dead_letter_the_offsets_done_above_it_are_not_processed_again() -> None:
    # the DLQ resumes at poison + 1, below the watermark its mark moved past what the first
    # (split) attempt did: those offsets were once restarted, so processed twice
    from engine.testing import Harness

    processed: list[int] = []

    class Poisoned(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.offset == 3:
                    raise ValueError("poison")
                processed.append(message.offset)
                self.mark_as_consumed(message)

    app = App(kafka=BOOTSTRAP, concurrency=4)
    app.topic("t", Poisoned, virtual_partitions=VirtualPartitions(max_partitions=4),
              dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=1))
    with Harness(app, partitions={"t": 1}) as kafka:
        for index in range(12):
            kafka.produce("t", index, key=f"k{index % 6}", partition=0)
        kafka.run()
        assert [m.offset for m in kafka.topic("t.dlq")] == [0]
        assert sorted(processed) == [o for o in range(12) if o != 3]  # each once
        kafka.stop()
        assert kafka.committed("t", 0) == 12


def test_a_consumers_pause_below_the_watermark_reads_again_from_there() -> None:
    # the consumer's own pause at an earlier offset is a move back, as a seek back is: what
    # the other virtual partitions did above it is read again
    from engine.testing import Harness

    processed: list[int] = []
    paused: list[int] = []

    class Rewinding(Consumer):
        def consume(self, messages: Messages) -> None:
            processed.extend(message.offset for message in messages)
            if 5 in [m.offset for m in messages] and not paused:
                paused.append(5)
                self.pause(0, 0.0)

    app = App(kafka=BOOTSTRAP, concurrency=4)
    app.topic("t", Rewinding, virtual_partitions=VirtualPartitions(max_partitions=4))
    with Harness(app, partitions={"t": 1}) as kafka:
        for index in range(8):
            kafka.produce("t", index, key=f"k{index % 4}", partition=0)
        kafka.run()
        assert sorted(processed) == sorted([*range(8), *range(8)])  # all, then all again
        kafka.stop()
        assert kafka.committed("t", 0) == 8
