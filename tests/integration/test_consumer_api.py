"""The consumer runtime API against a real broker: produce, pause, seek, DLQ, statistics."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from engine import Consumer, DeadLetterQueue, Messages
from tests.integration.conftest import Recorder, committed, make_app, produce, wait_until


def run_until(app: Any, condition: Callable[[], bool], message: str) -> None:
    app.start()
    try:
        wait_until(condition, message=message)
    finally:
        app.stop()


def test_produce_and_produce_sync_forward_to_another_topic(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    source, target = make_topic(1), make_topic(1)
    produce(bootstrap, source, [b'{"n": 1}', b'{"n": 2}'])
    forwarded: list[Any] = []

    class Forward(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.produce_sync(target, {"double": message.payload["n"] * 2}, key="k",
                                  headers=[("h", b"v")])

    class Sink(Consumer):
        def consume(self, messages: Messages) -> None:
            forwarded.extend((m.key, m.payload, m.headers) for m in messages)

    app = make_app(bootstrap, unique("g"))
    app.topic(source, Forward)
    app.topic(target, Sink)
    run_until(app, lambda: len(forwarded) == 2, "2 forwarded messages")
    assert forwarded == [("k", {"double": 2}, {"h": b"v"}), ("k", {"double": 4}, {"h": b"v"})]


def test_a_bad_payload_takes_the_failure_path_and_is_retried_not_skipped(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b'{"ok": 1}', b"{broken", b'{"ok": 3}'])
    seen: list[int] = []

    class Strict(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                message.payload  # noqa: B018 - raises for the broken one
                seen.append(message.offset)
                self.mark_as_consumed(message)

    app = make_app(bootstrap, group, pause_timeout=0.1, pause_max_timeout=0.1)
    recorder = Recorder(app)
    app.topic(topic, Strict)
    run_until(app, lambda: len(recorder.of("consumer.consuming.retry")) >= 2, "two retries")
    errors = [e for e in recorder.of("error.occurred") if e["type"] == "consumer.deserialize.error"]
    assert errors and all(e["offset"] == 1 for e in errors)
    assert "cannot deserialize the payload of" in str(errors[0]["error"])
    assert seen[0] == 0 and 2 not in seen  # never skipped past the bad message
    assert committed(bootstrap, group, topic, 1) == {0: 1}


def test_dead_letter_queue_takes_the_message_after_its_retries_and_moves_on(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, dlq, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, topic, [(b"k0", b'{"n": 0}'), (b"k1", b'{"n": 1}'), (b"k2", b'{"n": 2}')])
    done: list[int] = []
    dead: list[Any] = []

    class Picky(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.payload["n"] == 1:
                    raise ValueError("never")
                done.append(message.offset)
                self.mark_as_consumed(message)

    class Dead(Consumer):
        def consume(self, messages: Messages) -> None:
            dead.extend((m.raw_key, m.raw_payload, m.headers) for m in messages)

    app = make_app(bootstrap, group, pause_timeout=0.05, pause_max_timeout=0.1)
    recorder = Recorder(app)
    app.topic(topic, Picky, dead_letter_queue=DeadLetterQueue(dlq, max_retries=2))
    app.consumer_group(unique("dlq")).topic(dlq, Dead)
    run_until(app, lambda: len(dead) == 1 and 2 in done, "dispatch and progress")
    assert done == [0, 2]
    key, payload, headers = dead[0]
    assert (key, payload) == (b"k1", b'{"n": 1}')
    assert headers["source_topic"] == topic.encode() and headers["source_offset"] == b"1"
    assert len(recorder.of("consumer.consuming.retry")) == 2  # 1 try + 2 retries, then DLQ
    (dispatched,) = recorder.of("dead_letter_queue.dispatched")
    assert (dispatched["offset"], dispatched["dlq_topic"]) == (1, dlq)
    assert committed(bootstrap, group, topic, 1) == {0: 3}


def test_manual_pause_and_seek_turn_off_auto_marking(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, [b"{}"] * 6)
    batches: list[tuple[int, int]] = []
    lock = threading.Lock()

    class Replaying(Consumer):
        replayed = False

        def consume(self, messages: Messages) -> None:
            with lock:
                batches.append((messages.metadata.first_offset, messages.metadata.last_offset))
            if not Replaying.replayed and messages.metadata.last_offset == 5:
                Replaying.replayed = True
                self.pause(offset=2, timeout=0.2)  # come back to offset 2 shortly

    app = make_app(bootstrap, group)
    recorder = Recorder(app)
    app.topic(topic, Replaying)
    run_until(app, lambda: len(batches) >= 2, "the replay")
    assert batches[0] == (0, 5)
    assert batches[1][0] == 2  # resumed where the pause said
    (pause,) = recorder.of("consumer.consuming.pause")
    assert (pause["offset"], pause["timeout"], pause["manual"]) == (2, 0.2, True)
    assert recorder.of("client.resume")


def test_statistics_become_events(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic = make_topic(1)
    app = make_app(bootstrap, unique("g"), kafka={"statistics.interval.ms": 100})
    recorder = Recorder(app)

    class Idle(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

    app.topic(topic, Idle)
    run_until(app, lambda: len(recorder.of("statistics.emitted")) >= 2, "statistics")
    stats = recorder.of("statistics.emitted")[0]
    assert stats["statistics"]["type"] == "consumer"
    assert stats["consumer_group"] == app.settings.client_id


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_both_assignment_protocols_consume_everything(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str], strategy: str,
) -> None:
    topic = make_topic(3)
    written = produce(bootstrap, topic, [(str(i).encode(), b"{}") for i in range(300)])
    seen: set[tuple[int, int]] = set()

    class Collect(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.update((m.partition, m.offset) for m in messages)

    app = make_app(bootstrap, unique("g"), kafka={"partition.assignment.strategy": strategy})
    app.topic(topic, Collect)
    run_until(app, lambda: len(seen) == 300, "300 messages")
    assert seen == {(p, o) for p, offsets in written.items() for o in offsets}
