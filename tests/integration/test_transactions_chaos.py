"""Transactions under chaos on Apache Kafka: a member killed mid-transaction, a revocation by a
second member mid-transaction, four workers over six partitions. Each time a ``read_committed``
reader of the output sees each input's output exactly once and the group commits the end.

Tansu shows aborted records to read_committed readers, so these run on Apache Kafka only:
``ENGINE_TEST_BROKER=kafka pytest -q tests/integration/test_transactions_chaos.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException

from engine import App, Consumer, Messages
from tests.integration.conftest import DEADLINE, Recorder, committed, make_app, produce, wait_until
from tests.integration.test_transactions import TANSU, outputs

APP = Path(__file__).with_name("transactions_app.py")

pytestmark = pytest.mark.kafka_only(TANSU)


def output(partition: int, offset: int) -> bytes:
    """The output the pipelines write for an input (``transactions_app.py`` writes the same)."""
    return f"out-{partition}-{offset}".encode()


def expected(ends: dict[int, int]) -> list[bytes]:
    """Every input's output once, sorted: inputs ``0..end-1`` of each partition in ``ends``."""
    return sorted(output(p, o) for p, end in ends.items() for o in range(end))


def commits_reach(bootstrap: str, group: str, topic: str, ends: dict[int, int]) -> bool:
    """Whether the group committed ``ends`` (False while the coordinator is not ready)."""
    try:
        return committed(bootstrap, group, topic, len(ends)) == ends
    except KafkaException:  # a coordinator still loading after the broker's start
        return False


def commit_of(bootstrap: str, group: str, topic: str, partition: int) -> int | None:
    """The offset the group committed for one partition (None while the coordinator loads)."""
    try:
        return committed(bootstrap, group, topic, partition + 1)[partition]
    except KafkaException:
        return None


@contextmanager
def member(log: Path, bootstrap: str, group: str, source: str, target: str,
           **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``engine server transactions_app.py`` as a process of its own; killed if left running."""
    environment = {**os.environ, "BOOTSTRAP": bootstrap, "GROUP": group, "SOURCE": source,
                   "TARGET": target, **env}
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "engine", "server", str(APP)],
                                   env=environment, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEADLINE)


def test_a_member_killed_mid_transaction_leaves_each_output_once(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    count = 100
    source, target, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, source, [str(n).encode() for n in range(count)], partition=0)
    marker = tmp_path / "hung.txt"
    with member(tmp_path / "killed.log", bootstrap, group, source, target,
                HANG_FROM=str(count // 2), MARKER=str(marker)) as killed:
        wait_until(lambda: marker.exists() or killed.poll() is not None, DEADLINE,
                   "the first member to hang inside its transaction")
        assert killed.poll() is None, (tmp_path / "killed.log").read_text()
        first, *hung = map(int, marker.read_text().split())
        # the transactions before the hung one committed; the hung one's outputs are in the log
        assert commits_reach(bootstrap, group, source, {0: first})
        assert {output(0, o) for o in hung} <= set(outputs(bootstrap, target, "read_uncommitted"))
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(DEADLINE) == -signal.SIGKILL
    with member(tmp_path / "fresh.log", bootstrap, group, source, target) as fresh:
        wait_until(lambda: commits_reach(bootstrap, group, source, {0: count}), DEADLINE,
                   "the fresh member's transactional commit of every input")
        fresh.send_signal(signal.SIGTERM)
        assert fresh.wait(DEADLINE) == 0, (tmp_path / "fresh.log").read_text()
    assert sorted(outputs(bootstrap, target, "read_committed")) == expected({0: count})
    every_record = Counter(outputs(bootstrap, target, "read_uncommitted"))
    assert hung and all(every_record[output(0, o)] >= 2 for o in hung)  # aborted, redone


class Revocation:
    """Member A blocks inside the transaction of one batch of partition 0 until ``gate``."""

    def __init__(self, block_from: int) -> None:
        self.block_from = block_from
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.blocked_at: int | None = None  # the first offset of the blocked batch
        self.join_state = ""

    def blocks(self, consumer: Consumer, messages: Messages) -> bool:
        """Whether this batch is the one to block (the first of partition 0 past block_from)."""
        with self.lock:
            if (self.blocked_at is not None or consumer.partition != 0
                    or messages.metadata.last_offset < self.block_from):
                return False
            self.blocked_at = messages.metadata.first_offset
            return True

    def statistics(self, sender: Any, **event: Any) -> None:
        """Member B's librdkafka statistics: where its group join stands."""
        self.join_state = str(event["statistics"].get("cgrp", {}).get("join_state", ""))


def revocation_pipeline(revocation: Revocation, target: str) -> type[Consumer]:
    """The consumer of both members: half a batch produced, maybe blocked, the rest, the mark."""

    class Pipeline(Consumer):
        def consume(self, messages: Messages) -> None:
            blocks = revocation.blocks(self, messages)
            half = len(messages) // 2
            with self.transaction():
                for index, message in enumerate(messages):
                    if blocks and index == half:
                        assert revocation.gate.wait(DEADLINE)
                    self.produce_sync(target, output(message.partition, message.offset))
                self.mark_as_consumed(messages.last())  # type: ignore[arg-type]

    return Pipeline


def revoked(events: Recorder) -> bool:
    """Whether the member whose ``events`` these are had partition 0 revoked or lost."""
    return any(key[1] == 0 for how in ("revoked", "lost")
               for event in events.of(f"rebalance.partitions_{how}")
               for key in event["partitions"])


def revocation_member(bootstrap: str, group: str, source: str,
                      consumer: type[Consumer], **kafka: Any) -> App:
    # a ten-second session leaves member A time to finish its batch and rejoin once released;
    # one connection each, so the two partitions are split between the two members (with the
    # transactional default of one per worker, member B's could all be left without one)
    app = make_app(bootstrap, group, transactional_id=group, max_messages=10, connections=1,
                   kafka={"session.timeout.ms": 10000, "heartbeat.interval.ms": 1000, **kafka})
    app.topic(source, consumer)
    return app


def test_a_revocation_by_a_joining_member_mid_transaction_leaves_each_output_once(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    count = 40
    source, target, group = make_topic(2), make_topic(1), unique("g")
    for partition in (0, 1):
        produce(bootstrap, source, [b"in"] * count, partition=partition)
    revocation = Revocation(block_from=count // 2)
    pipeline = revocation_pipeline(revocation, target)
    member_a = revocation_member(bootstrap, group, source, pipeline)
    member_b = revocation_member(bootstrap, group, source, pipeline,
                                 **{"statistics.interval.ms": 100})
    member_b.monitor.subscribe("statistics.emitted", revocation.statistics)
    seen_by_a, seen_by_b = Recorder(member_a), Recorder(member_b)
    with ExitStack() as running:  # stops the members started, the gate open, on any failure
        member_a.start()
        running.callback(member_a.stop)
        running.callback(revocation.gate.set)
        wait_until(lambda: revocation.blocked_at is not None, message="member A blocked")
        blocked_at = revocation.blocked_at
        assert blocked_at is not None
        # only partition 0's commit is known here: member A's listener waits for the blocked
        # batch before it polls again, so partition 1 may have inputs it has not taken yet
        wait_until(lambda: commit_of(bootstrap, group, source, 0) == blocked_at,
                   message="member A's commits up to its open transaction")
        member_b.start()
        running.callback(member_b.stop)
        running.callback(revocation.gate.set)
        # a revocation that waits for the open transaction holds member B in wait-join; one
        # that does not lets the rebalance go on: either way the transaction is still open
        wait_until(lambda: revocation.join_state == "wait-join" or revoked(seen_by_a),
                   message="member B waiting for the group to rebalance")
        revocation.gate.set()
        wait_until(lambda: any(event["partitions"] for event in seen_by_b.of(
            "rebalance.partitions_assigned")), message="a partition assigned to member B")
        for partition in (0, 1):  # for member B to transform some too
            produce(bootstrap, source, [b"in"] * count, partition=partition)
        wait_until(lambda: commits_reach(bootstrap, group, source, {0: 2 * count,
                                                                     1: 2 * count}),
                   message="the transactional commit of every input")
    assert revoked(seen_by_a)
    assert sorted(outputs(bootstrap, target, "read_committed")) == expected(
        {0: 2 * count, 1: 2 * count})


def test_four_workers_over_six_partitions_write_each_output_once(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    partitions, count = 6, 500
    source, target, group = make_topic(partitions), make_topic(1), unique("g")
    for partition in range(partitions):
        produce(bootstrap, source, [b"in"] * count, partition=partition)

    class Pipeline(Consumer):
        def consume(self, messages: Messages) -> None:
            with self.transaction():
                for message in messages:
                    self.produce(target, output(message.partition, message.offset))
                self.mark_as_consumed(messages.last())  # type: ignore[arg-type]

    app = make_app(bootstrap, group, transactional_id=group, concurrency=4, max_messages=50)
    app.topic(source, Pipeline)
    ends = dict.fromkeys(range(partitions), count)
    app.start()
    try:
        wait_until(lambda: commits_reach(bootstrap, group, source, ends),
                   message="the transactional commit of every input")
    finally:
        app.stop()
    assert sorted(outputs(bootstrap, target, "read_committed")) == expected(ends)
