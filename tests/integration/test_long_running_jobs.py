"""Long-running jobs: a batch outlasting max.poll.interval.ms keeps its member in the group."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer as KafkaConsumer

from engine import Consumer, Messages
from tests.integration.conftest import (
    DEADLINE,
    FAST_GROUP,
    Recorder,
    committed,
    make_app,
    produce,
    wait_until,
)

# a second above the session (librdkafka wants at least that), so a job outlasts it soon
MAX_POLL_MS = FAST_GROUP["session.timeout.ms"] + 1000
LONG_GROUP = {**FAST_GROUP, "max.poll.interval.ms": MAX_POLL_MS}


class Gate:
    """The long job's door: the job waits at it until the test opens it."""

    def __init__(self) -> None:
        self.opened, self.entered = threading.Event(), threading.Event()
        self.started_at = 0.0

    def hold(self) -> None:
        self.started_at = time.monotonic()
        self.entered.set()
        assert self.opened.wait(DEADLINE), "the test never opened the gate"


def test_a_batch_longer_than_max_poll_interval_stays_in_the_group_and_others_flow(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(2), unique("g")
    gate, seen = Gate(), {0: [], 1: []}
    lock = threading.Lock()

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            if self.partition == 0 and not gate.entered.is_set():
                gate.hold()
            with lock:
                seen[self.partition] += [m.offset for m in messages]

    app = make_app(bootstrap, group, fast_group=False, kafka=LONG_GROUP)
    app.topic(topic, Slow, long_running_job=True)
    recorder = Recorder(app)
    produce(bootstrap, topic, [b"{}"] * 5, partition=0)
    app.start()
    try:
        wait_until(gate.entered.is_set, message="the long job started")
        produce(bootstrap, topic, [b"{}"] * 20, partition=1)
        wait_until(lambda: len(seen[1]) == 20, message="partition 1 flowing meanwhile")
        outlasting = MAX_POLL_MS / 1000 + 2.0
        wait_until(lambda: time.monotonic() - gate.started_at > outlasting,
                   message=f"the job outlasting max.poll.interval.ms ({MAX_POLL_MS} ms)")
        assert seen[0] == []  # still inside the long job
        gate.opened.set()
        produce(bootstrap, topic, [b"{}"] * 5, partition=0)
        wait_until(lambda: len(seen[0]) == 10, message="partition 0 resumed after the job")
        moved = recorder.names("rebalance.partitions_revoked") + recorder.names(
            "rebalance.partitions_lost")  # before the stop, which revokes as it leaves
    finally:
        gate.opened.set()
        app.stop()
    assert seen[0] == list(range(10)) and seen[1] == list(range(20))  # no duplicate
    assert moved == []
    assert committed(bootstrap, group, topic, 2) == {0: 10, 1: 20}


def holds_within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` comes to hold within ``seconds`` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_member_joining_during_a_long_job_revokes_it_cleanly(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    gate, story = Gate(), []
    outcome: dict[str, Any] = {}

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            if not gate.entered.is_set():
                gate.hold()
                # the test opens the gate once the rebalance callback announced the
                # revocation; the listener tells the partition's state after that poll
                outcome["revoked"] = holds_within(DEADLINE, lambda: self.is_revoked)
                outcome["marked"] = self.mark_as_consumed(messages.last(), sync=True)  # type: ignore[arg-type]
                story.append("job ended")
                return
            story.append(f"again from {messages.metadata.first_offset}")

        def revoked(self) -> None:
            story.append("revoked hook")

    app = make_app(bootstrap, group, fast_group=False, kafka=LONG_GROUP)
    app.topic(topic, Slow, long_running_job=True)
    recorder = Recorder(app)
    produce(bootstrap, topic, [b"{}"] * 5, partition=0)
    joiner = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "enable.auto.commit": False, **LONG_GROUP})
    joined: list[Any] = []
    app.start()
    try:
        wait_until(gate.entered.is_set, message="the long job started")
        joiner.subscribe([topic])
        wait_until(lambda: (joined.extend(m for m in joiner.consume(10, 0.1) if not m.error()),
                            bool(recorder.names("rebalance.partitions_revoked")))[1],
                   message="the partition revoked by the rebalance")
        assert committed(bootstrap, group, topic, 1)[0] < 0  # nothing committed
        gate.opened.set()
        wait_until(lambda: "revoked hook" in story, message="the revoked hook after the job")
        # the new owner (the joiner, or the app again) gets the messages from the start
        wait_until(lambda: (joined.extend(m for m in joiner.consume(10, 0.1) if not m.error()),
                            any(m.offset() == 0 for m in joined)
                            or "again from 0" in story)[1],
                   message="the messages delivered again to the new owner")
    finally:
        gate.opened.set()
        joiner.close()
        app.stop()
    assert outcome == {"revoked": True, "marked": False}
    assert story.index("job ended") < story.index("revoked hook")


def test_stop_waits_for_a_running_long_job_and_commits_it(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    gate = Gate()

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            gate.hold()

    app = make_app(bootstrap, group, fast_group=False, kafka=LONG_GROUP)
    app.topic(topic, Slow, long_running_job=True)
    produce(bootstrap, topic, [b"{}"] * 3, partition=0)
    app.start()
    stopper = threading.Thread(target=app.stop)
    try:
        wait_until(gate.entered.is_set, message="the long job started")
        stopper.start()
        wait_until(lambda: app.state in ("quieting", "stopping"), message="the stop begun")
        assert stopper.is_alive()  # waiting for the job
        gate.opened.set()
        stopper.join(DEADLINE)
        assert not stopper.is_alive()
    finally:
        gate.opened.set()
    assert app.state == "terminated"
    assert committed(bootstrap, group, topic, 1) == {0: 3}
