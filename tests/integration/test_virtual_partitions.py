"""Virtual partitions on a real broker: per-key order, held commits, collapsed retries, restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer

from engine import App, Consumer, DeadLetterQueue, Message, Messages, VirtualPartitions
from engine.virtual.metadata import decode
from tests.integration.conftest import (
    DEADLINE,
    Recorder,
    committed,
    make_app,
    produce,
    wait_until,
)

FAST_COMMITS = {"auto.commit.interval.ms": 100}


def committed_with_metadata(bootstrap: str, group: str, topic: str) -> tuple[int, str | None]:
    """The group's committed offset of partition 0 and its metadata."""
    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        (found,) = consumer.committed([TopicPartition(topic, 0)], 30)
        return found.offset, found.metadata
    finally:
        consumer.close()


def keyed(count: int, keys: int) -> list[tuple[str, bytes]]:
    """``count`` records whose keys cycle over ``keys`` values ("key-0", "key-1", ...)."""
    return [(f"key-{index % keys}", b"{}") for index in range(count)]


def run_until(app: App, *waits: tuple[Callable[[], bool], str]) -> None:
    """Start ``app``, wait for each ``(condition, what)`` in turn, and stop it."""
    app.start()
    try:
        for condition, what in waits:
            wait_until(condition, message=what)
    finally:
        app.stop()


class Seen:
    """What the consumers saw, in order per instance, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, list[int]] = {}
        self.offsets: list[int] = []
        self.instances: set[int] = set()
        self.collapsed: list[int] = []

    def add(self, consumer: Consumer, messages: Iterable[Message]) -> None:
        with self.lock:
            self.instances.add(consumer.virtual_partition)
            for message in messages:
                self.by_key.setdefault(message.key, []).append(message.offset)
                self.offsets.append(message.offset)
                if consumer.collapsed:
                    self.collapsed.append(message.offset)

    def count(self) -> int:
        with self.lock:
            return len(set(self.offsets))


def test_keys_keep_their_order_across_concurrent_virtual_partitions(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    records = keyed(1000, 97)
    produce(bootstrap, topic, records, partition=0)
    seen = Seen()

    class Ordered(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.add(self, messages)

    app = make_app(bootstrap, group, concurrency=4, max_messages=200, kafka=FAST_COMMITS)
    app.topic(topic, Ordered, virtual_partitions=VirtualPartitions(max_partitions=8))
    run_until(app, (lambda: seen.count() == 1000, "1000 messages"),
              (lambda: committed_with_metadata(bootstrap, group, topic)[0] == 1000,
               "the commit of the last offset"))
    assert len(seen.instances) == 8
    for key, offsets in seen.by_key.items():
        assert offsets == sorted(offsets), key
    assert sorted(seen.offsets) == list(range(1000))  # none twice: nothing failed


def test_the_commit_stays_below_a_blocked_virtual_partition(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, keyed(40, 40), partition=0)
    seen = Seen()
    release = threading.Event()
    blocked_from: list[int] = []

    class Blocking(Consumer):
        def consume(self, messages: Messages) -> None:
            if any(message.key == "key-20" for message in messages):
                blocked_from.append(messages.metadata.first_offset)
                assert release.wait(DEADLINE)
            seen.add(self, messages)

    app = make_app(bootstrap, group, concurrency=4, max_messages=100, kafka=FAST_COMMITS)
    app.topic(topic, Blocking, virtual_partitions=VirtualPartitions(max_partitions=4))
    app.start()
    try:
        wait_until(lambda: bool(blocked_from), message="the blocked virtual partition")
        wait_until(lambda: seen.count() > 0 and committed_with_metadata(
            bootstrap, group, topic)[0] == blocked_from[0],
            message="a commit at the blocked virtual partition's first offset")
        with seen.lock:
            done_past_it = [offset for offset in seen.offsets if offset > blocked_from[0]]
        assert done_past_it  # others went past it, and the commit did not follow them
        release.set()
        wait_until(lambda: committed_with_metadata(bootstrap, group, topic)[0] == 40,
                   message="the commit of everything once released")
    finally:
        release.set()
        app.stop()
    assert sorted(seen.offsets) == list(range(40))


def test_a_stop_waits_for_a_running_virtual_partition_before_its_final_commit(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, keyed(40, 40), partition=0)
    seen, release = Seen(), threading.Event()
    blocked: list[list[int]] = []

    class Blocking(Consumer):
        def consume(self, messages: Messages) -> None:
            if any(message.key == "key-20" for message in messages):
                blocked.append([message.offset for message in messages])
                assert release.wait(DEADLINE)
            seen.add(self, messages)

    # no commit but the stop's own: what it commits tells whether it waited for the job
    app = make_app(bootstrap, group, concurrency=4, max_messages=100,
                   kafka={"auto.commit.interval.ms": 600000})
    app.topic(topic, Blocking, virtual_partitions=VirtualPartitions(max_partitions=4))
    recorder = Recorder(app)
    app.start()
    stopper = threading.Thread(target=app.stop)
    try:
        wait_until(lambda: bool(blocked), message="the blocked virtual partition")
        wait_until(lambda: seen.count() == 40 - len(blocked[0]),
                   message="the batch's other virtual partitions done")
        stopper.start()
        wait_until(lambda: "app.stopping" in recorder.names("app."), message="the stop begun")
        assert stopper.is_alive()  # it cannot end while a virtual partition runs
        assert committed(bootstrap, group, topic, 1) == {0: -1001}  # nothing committed yet
        release.set()
        stopper.join(DEADLINE)
        assert not stopper.is_alive()
    finally:
        release.set()
        if stopper.ident is None:  # failed before the stop began
            app.stop()
    assert sorted(seen.offsets) == list(range(40))
    assert committed(bootstrap, group, topic, 1) == {0: 40}  # the blocked one's work included


def test_a_failing_key_is_retried_collapsed_then_processed(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, keyed(50, 10), partition=0)
    seen = Seen()
    failures = [1]

    class FailingOnce(Consumer):
        def consume(self, messages: Messages) -> None:
            if any(message.offset == 23 for message in messages):
                with seen.lock:
                    failing, failures[0] = failures[0] > 0, failures[0] - 1
                if failing:
                    raise RuntimeError("offset 23 fails once")
            seen.add(self, messages)

    app = make_app(bootstrap, group, concurrency=4, max_messages=100, pause_timeout=0.2,
                   kafka=FAST_COMMITS)
    recorder = Recorder(app)
    app.topic(topic, FailingOnce, virtual_partitions=VirtualPartitions(max_partitions=4))
    run_until(app, (lambda: seen.count() == 50, "all 50 messages"),
              (lambda: committed_with_metadata(bootstrap, group, topic)[0] == 50,
               "the commit of everything"))
    assert 23 in seen.collapsed  # the retry ran in one instance, in offset order
    assert seen.collapsed == sorted(seen.collapsed)
    assert len(seen.offsets) == len(set(seen.offsets))  # what was done was never redone
    retries = recorder.of("consumer.consuming.retry")
    assert len(retries) == 1 and retries[0]["offset"] <= 23
    errors = [e for e in recorder.of("error.occurred") if e["type"] == "consumer.consume.error"]
    assert [e["virtual_partition"] for e in errors] != []


def read_to_end(bootstrap: str, topic: str) -> list[Any]:
    """Every message of partition 0 of ``topic``, up to its end as the broker has it now."""
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                            "enable.auto.commit": False})
    try:
        _, end = reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        found: list[Any] = []
        deadline = time.monotonic() + DEADLINE
        # the position, not a count: a transaction's marker takes an offset too
        while reader.position([TopicPartition(topic, 0)])[0].offset < end:
            assert time.monotonic() < deadline, f"timed out reading {topic} to {end}"
            message = reader.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
        return found
    finally:
        reader.close()


POISON_COUNT, POISON = 300, 137


class Poisoned:
    """A run over ``POISON_COUNT`` keyed messages where offset ``POISON`` always raises."""

    def __init__(self, bootstrap: str, topic: str, dlq: str, group: str) -> None:
        self.topic = topic
        records = keyed(POISON_COUNT, 37)
        self.poison_key = records[POISON][0]
        produce(bootstrap, topic, records, partition=0)
        self.seen = seen = Seen()

        class MarksEach(Consumer):
            # marks each message: the first unmarked one, which the DLQ takes, is the poison
            def consume(self, messages: Messages) -> None:
                for message in messages:
                    if message.offset == POISON:
                        raise ValueError(f"poison at {message.offset}")
                    seen.add(self, [message])
                    self.mark_as_consumed(message)

        app = make_app(bootstrap, group, concurrency=4, max_messages=100, pause_timeout=0.05,
                       kafka=FAST_COMMITS)
        self.recorder = Recorder(app)
        app.topic(topic, MarksEach, virtual_partitions=VirtualPartitions(max_partitions=4),
                  dead_letter_queue=DeadLetterQueue(dlq, max_retries=1))
        run_until(app, (lambda: set(seen.offsets) == set(range(POISON_COUNT)) - {POISON},
                        "every message but the poison"),
                  (lambda: committed(bootstrap, group, topic, 1) == {0: POISON_COUNT},
                   "the commit past the last message"))
        self.dead_letters = read_to_end(bootstrap, dlq)


@pytest.fixture
def poisoned(bootstrap: str, make_topic: Callable[..., str],
             unique: Callable[[str], str]) -> Poisoned:
    """A finished ``Poisoned`` run on a fresh topic, DLQ topic and group."""
    return Poisoned(bootstrap, make_topic(1), make_topic(1, prefix="dlq"), unique("g"))


def test_a_message_that_always_fails_is_dead_lettered_once_and_the_rest_flows_in_key_order(
    poisoned: Poisoned,
) -> None:
    seen = poisoned.seen  # the run waited for everything but the poison and the final commit
    assert POISON not in seen.offsets
    for key, offsets in seen.by_key.items():  # each key's first processings in offset order
        firsts = list(dict.fromkeys(offsets))
        assert firsts == sorted(firsts), key
    assert len(seen.instances) == 4  # split while it flowed, not collapsed throughout
    dispatched = poisoned.recorder.of("dead_letter_queue.dispatched")
    assert [e["offset"] for e in dispatched] == [POISON]
    (dead,) = poisoned.dead_letters
    headers = dict(dead.headers())
    assert dead.key() == poisoned.poison_key.encode()
    assert (headers["source_topic"], headers["source_partition"], headers["source_offset"]) == (
        poisoned.topic.encode(), b"0", b"137")


def test_a_dead_lettered_batch_processes_no_message_twice(poisoned: Poisoned) -> None:
    offsets = poisoned.seen.offsets
    assert sorted(offsets) == [o for o in range(POISON_COUNT) if o != POISON]


@pytest.mark.kafka_only("a commit's metadata reads back as None (Tansu 0.6 drops it)")
def test_a_restart_skips_the_offsets_the_commit_metadata_holds(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, keyed(64, 8), partition=0)
    first, second = Seen(), Seen()
    failing: list[Any] = [True]

    class Run(Consumer):
        def consume(self, messages: Messages) -> None:
            if failing[0] and any(message.key == "key-3" for message in messages):
                raise RuntimeError("key-3 fails in the first run")
            (first if failing[0] else second).add(self, messages)

    app = make_app(bootstrap, group, concurrency=4, max_messages=100, pause_timeout=60.0,
                   pause_max_timeout=60.0, kafka=FAST_COMMITS)
    app.topic(topic, Run, virtual_partitions=VirtualPartitions(max_partitions=4))
    app.start()
    try:
        wait_until(lambda: first.count() > 0 and decode(
            *committed_with_metadata(bootstrap, group, topic)[::-1]) is not None,
            message="a commit with completed offsets in its metadata")
    finally:
        app.stop()  # the retry waits out its 60 s back-off: it never runs in this app
    offset, metadata = committed_with_metadata(bootstrap, group, topic)
    completed = decode(metadata, offset)
    assert completed is not None and completed == {o for o in first.offsets if o > offset}
    failing[0] = False
    app = make_app(bootstrap, group, concurrency=4, max_messages=100, kafka=FAST_COMMITS)
    app.topic(topic, Run, virtual_partitions=VirtualPartitions(max_partitions=4))
    run_until(app, (lambda: committed_with_metadata(bootstrap, group, topic)[0] == 64,
                    "the commit of everything after the restart"))
    assert set(second.offsets) == set(range(offset, 64)) - completed  # done ones skipped


class Takeover:
    """What two members of one group did, in one order, thread-safe.

    ``story`` interleaves the blocked virtual partition's end with member A's rebalance
    events; ``at_revocation`` is, per partition, the last offset A had processed when its
    first revocation (or loss) came.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.offsets: dict[str, dict[int, list[int]]] = {"a": {}, "b": {}}
        self.story: list[str] = []
        self.blocked: dict[int, list[int]] = {}
        self.at_revocation: dict[int, int] | None = None
        self.join_state = ""

    def add(self, member: str, partition: int, offsets: list[int]) -> None:
        with self.lock:
            self.offsets[member].setdefault(partition, []).extend(offsets)

    def processed(self) -> dict[int, set[int]]:
        with self.lock:
            return {partition: set(self.offsets["a"].get(partition, []))
                    | set(self.offsets["b"].get(partition, [])) for partition in (0, 1)}

    def moved(self, how: str) -> Callable[..., None]:
        """A receiver of member A's partitions ``how`` ("revoked", after its commit, or "lost")."""
        def receive(sender: Any, **event: Any) -> None:
            with self.lock:
                self.story.append(how)
                if self.at_revocation is None:
                    self.at_revocation = {p: max(o) for p, o in self.offsets["a"].items() if o}
        return receive

    def statistics(self, sender: Any, **event: Any) -> None:
        """Member B's librdkafka statistics: where its group join stands."""
        self.join_state = str(event["statistics"].get("cgrp", {}).get("join_state", ""))


def assert_commits_hold_below_unprocessed(bootstrap: str, group: str, topic: str,
                                          takeover: Takeover) -> None:
    """The committed offsets (read first) pass nothing that is still unprocessed."""
    found = committed(bootstrap, group, topic, 2)
    processed = takeover.processed()
    for partition, offset in found.items():
        assert set(range(max(offset, 0))) <= processed[partition], (partition, offset)


def takeover_consumers(takeover: Takeover, gate: threading.Event, kind: str
                       ) -> tuple[type[Consumer], type[Consumer]]:
    """Member A's consumer (partition 0's virtual partition of key-5 blocks until ``gate``)
    and member B's, both plain or both ``async def``."""

    def blocks(consumer: Consumer, messages: Messages) -> bool:
        if (consumer.partition == 0 and not gate.is_set()
                and any(message.key == "key-5" for message in messages)):
            with takeover.lock:
                takeover.blocked[messages.metadata.first_offset] = [m.offset for m in messages]
            return True
        return False

    def unblocked(consumer: Consumer, messages: Messages) -> None:
        with takeover.lock:
            takeover.story.append("blocked virtual partition done")

    class MemberA(Consumer):
        def consume(self, messages: Messages) -> None:
            if blocks(self, messages):
                assert gate.wait(DEADLINE)
                unblocked(self, messages)
            takeover.add("a", self.partition, [message.offset for message in messages])

    class MemberB(Consumer):
        def consume(self, messages: Messages) -> None:
            takeover.add("b", self.partition, [message.offset for message in messages])

    class AsyncMemberA(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            if blocks(self, messages):
                deadline = time.monotonic() + DEADLINE
                while not gate.is_set():  # the other virtual partitions' tasks run on
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.01)
                unblocked(self, messages)
            takeover.add("a", self.partition, [message.offset for message in messages])

    class AsyncMemberB(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            takeover.add("b", self.partition, [message.offset for message in messages])

    return (MemberA, MemberB) if kind == "sync" else (AsyncMemberA, AsyncMemberB)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_member_joining_mid_batch_waits_for_the_virtual_partitions_then_takes_over(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], kind: str,
) -> None:
    topic, group = make_topic(2), unique("g")
    count = 40
    for partition in (0, 1):
        produce(bootstrap, topic, keyed(count, 8), partition=partition)
    takeover, gate = Takeover(), threading.Event()
    MemberA, MemberB = takeover_consumers(takeover, gate, kind)  # noqa: N806 - classes

    # Tansu answers a join after about session.timeout.ms / 2: ten seconds leave member A
    # ample time to finish its batch and rejoin once released (Kafka waits for it anyway)
    group_settings = {**FAST_COMMITS, "session.timeout.ms": 10000,
                      "heartbeat.interval.ms": 1000}
    member_a = make_app(bootstrap, group, concurrency=4, max_messages=100,
                        kafka=group_settings)
    member_a.topic(topic, MemberA, virtual_partitions=VirtualPartitions(max_partitions=4))
    for how in ("revoked", "lost"):
        member_a.monitor.subscribe(f"rebalance.partitions_{how}", takeover.moved(how))
    member_b = make_app(bootstrap, group, concurrency=4, max_messages=100,
                        kafka={**group_settings, "statistics.interval.ms": 100})
    member_b.topic(topic, MemberB, virtual_partitions=VirtualPartitions(max_partitions=4))
    member_b.monitor.subscribe("statistics.emitted", takeover.statistics)
    assigned_to_b = Recorder(member_b)
    member_a.start()
    try:
        wait_until(lambda: bool(takeover.blocked), message="member A's blocked virtual partition")
        (blocked_from,) = takeover.blocked
        # the others of its batch went on: the commit reaches the blocked one, never past it
        wait_until(lambda: committed(bootstrap, group, topic, 2)[0] == blocked_from,
                   message="a commit held at the blocked virtual partition")
        member_b.start()
        wait_until(lambda: takeover.join_state == "wait-join",
                   message="member B waiting for the group to rebalance")
        assert_commits_hold_below_unprocessed(bootstrap, group, topic, takeover)
        assert committed(bootstrap, group, topic, 2)[0] == blocked_from
        gate.set()
        wait_until(lambda: any(event["partitions"] for event in assigned_to_b.of(
            "rebalance.partitions_assigned")), message="a partition assigned to member B")
        for partition in (0, 1):  # for member B to consume too, whatever A did meanwhile
            produce(bootstrap, topic, keyed(count, 8), partition=partition)
        everything = set(range(2 * count))
        wait_until(lambda: takeover.processed() == {0: everything, 1: everything},
                   message="every message processed by one member or the other")
        wait_until(lambda: committed(bootstrap, group, topic, 2) == {0: 2 * count,
                                                                      1: 2 * count},
                   message="the commit of everything")
        assert_commits_hold_below_unprocessed(bootstrap, group, topic, takeover)
    finally:
        gate.set()
        member_b.stop()
        member_a.stop()
    moves = [entry for entry in takeover.story if entry in ("revoked", "lost")]
    assert takeover.story[0] == "blocked virtual partition done" and moves
    assert takeover.offsets["b"]  # member B took a partition over and consumed it
    if moves[0] == "revoked":
        # revoked (not lost): its commit held everything A had done, the blocked virtual
        # partition included, so the new owner started right after it
        at_revocation = takeover.at_revocation or {}
        for partition, offsets in takeover.offsets["b"].items():
            assert min(offsets) == at_revocation.get(partition, -1) + 1, partition


def test_a_long_running_topic_holds_its_partition_while_its_virtual_partitions_run(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(2), unique("g")
    produce(bootstrap, topic, keyed(40, 8), partition=0)
    seen, gate = Seen(), threading.Event()
    blocked_from: list[int] = []
    flowing: list[int] = []

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            if self.partition == 1:
                with seen.lock:
                    flowing.extend(message.offset for message in messages)
                return
            if not gate.is_set() and any(message.key == "key-5" for message in messages):
                blocked_from.append(messages.metadata.first_offset)
                assert gate.wait(DEADLINE)
            seen.add(self, messages)

    # past max.poll.interval.ms the member would leave the group, were the listener waiting
    app = make_app(bootstrap, group, fast_group=False, concurrency=4, max_messages=100,
                   kafka={**FAST_COMMITS, "session.timeout.ms": 6000,
                          "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 7000})
    app.topic(topic, Slow, long_running_job=True,
              virtual_partitions=VirtualPartitions(max_partitions=4))
    recorder = Recorder(app)
    app.start()
    try:
        wait_until(lambda: bool(blocked_from), message="the blocked virtual partition")
        started = time.monotonic()
        produce(bootstrap, topic, [b"{}"] * 20, partition=1)
        wait_until(lambda: len(flowing) == 20, message="partition 1 flowing meanwhile")
        wait_until(lambda: committed_with_metadata(bootstrap, group, topic)[0] == blocked_from[0],
                   message="the commit held at the blocked virtual partition")
        wait_until(lambda: time.monotonic() - started > 9.0,
                   message="the batch outlasting max.poll.interval.ms (7 s)")
        assert blocked_from[0] not in seen.offsets  # still inside the batch
        gate.set()
        produce(bootstrap, topic, keyed(10, 8), partition=0)
        wait_until(lambda: seen.count() == 50, message="partition 0 fetched again after it")
        wait_until(lambda: committed(bootstrap, group, topic, 2) == {0: 50, 1: 20},
                   message="the commit of everything")
        moved = recorder.names("rebalance.partitions_revoked") + recorder.names(
            "rebalance.partitions_lost")  # before the stop, which revokes as it leaves
    finally:
        gate.set()
        app.stop()
    assert moved == []
    assert sorted(seen.offsets) == list(range(50))  # none twice: nothing failed or moved
    assert sorted(flowing) == list(range(20))
