"""A failing partition is retried from the first unmarked offset with growing back-off."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine import Consumer, Messages
from tests.integration.conftest import Recorder, committed, make_app, produce, wait_until

FAILURES = 3


def test_failing_partition_retries_from_the_right_offset_while_others_flow(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group, per_partition = make_topic(3), unique("g"), 40
    for partition in range(3):
        produce(bootstrap, topic, [b"{}"] * per_partition, partition=partition)
    failing_offset = 10
    processed: dict[int, list[int]] = {0: [], 1: [], 2: []}
    starts: list[int] = []
    finished_at: dict[int, float] = {}
    failures = 0
    lock = threading.Lock()

    class Flaky(Consumer):
        def consume(self, messages: Messages) -> None:
            nonlocal failures
            if self.partition == 0 and failures and self.attempt > 1:
                starts.append(messages.metadata.first_offset)  # a retry: where did it start?
            for message in messages:
                if self.partition == 0 and message.offset == failing_offset:
                    with lock:
                        if failures < FAILURES:
                            failures += 1
                            raise RuntimeError(f"failure {failures}")
                with lock:
                    processed[self.partition].append(message.offset)
                self.mark_as_consumed(message)
            with lock:
                if len(processed[self.partition]) >= per_partition:
                    finished_at.setdefault(self.partition, time.monotonic())

    app = make_app(bootstrap, group, pause_timeout=0.2, pause_max_timeout=0.5, max_messages=15)
    recorder = Recorder(app)
    app.topic(topic, Flaky)
    app.start()
    try:
        wait_until(lambda: len(finished_at) == 3, message="all partitions")
    finally:
        app.stop()

    assert processed == {p: list(range(per_partition)) for p in range(3)}  # nothing skipped
    retries = recorder.of("consumer.consuming.retry")
    assert [(r["partition"], r["offset"], r["attempt"]) for r in retries] == [
        (0, failing_offset, attempt) for attempt in range(1, FAILURES + 1)
    ]
    assert [r["timeout"] for r in retries] == [0.2, 0.4, 0.5]  # grows, then capped
    errors = [e for e in recorder.of("error.occurred") if e["type"] == "consumer.consume.error"]
    assert [(e["partition"], e["offset"]) for e in errors] == [(0, failing_offset)] * FAILURES
    assert starts == [failing_offset] * FAILURES  # each retry restarts right there
    assert max(finished_at[1], finished_at[2]) < finished_at[0]  # the others kept flowing
    assert committed(bootstrap, group, topic, 3) == {p: per_partition for p in range(3)}


def test_a_manual_consumer_that_marked_nothing_gets_every_message_again_after_a_failure(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    """The retry restarts at the first unmarked message of earlier batches (issue 16, item 1)."""
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * 8)
    seen: list[int] = []
    failed: list[int] = []

    class MarksAtTheEnd(Consumer):
        def consume(self, messages: Messages) -> None:
            if not failed and any(message.offset >= 4 for message in messages):
                failed.append(messages.metadata.first_offset)
                raise RuntimeError("a batch past offset 4 fails once")
            seen.extend(message.offset for message in messages)
            if messages.metadata.last_offset == 7:
                self.mark_as_consumed(messages.last())  # type: ignore[arg-type]

    app = make_app(bootstrap, group, pause_timeout=0.1, pause_max_timeout=0.2, max_messages=2)
    recorder = Recorder(app)
    app.topic(topic, MarksAtTheEnd, manual_offset_management=True)
    app.start()
    try:
        wait_until(lambda: seen[-1:] == [7], message="offset 7 processed")
    finally:
        app.stop()

    before = failed[0]  # what ran before the failing batch, nothing of it marked
    assert failed[0] > 0 and seen == list(range(before)) + list(range(8))
    assert [r["offset"] for r in recorder.of("consumer.consuming.retry")] == [0]
    assert committed(bootstrap, group, topic, 1) == {0: 8}
