"""Day-one delivery defects (issue 16, items 1-5 and 12), each on the engine's own code.

The harness runs the real listener, executors and strategies over an in-memory log, so each
test here failed on the code before its fix.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator

import pytest

from engine import App, Consumer, DeadLetterQueue, DeserializationError, Messages, RoutingError
from engine.messages import Message
from engine.processing.backoff import Backoff
from engine.testing import Harness, Stuck
from tests.fakes import FakeRaw
from tests.unit.test_harness import app_with

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


# -- 1: a retry restarts at the first unmarked offset, not at the failing batch --------------

def test_a_manual_retry_restarts_at_the_first_unmarked_offset_of_earlier_batches() -> None:
    seen: list[tuple[int, int]] = []  # (offset, attempt)
    failed: list[bool] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.extend((m.offset, consumer.attempt) for m in messages)
        if messages.metadata.first_offset == 4 and not failed:
            failed.append(True)
            raise RuntimeError("the third batch fails once")

    app = app_with(consume, manual_offset_management=True, app_options={"max_messages": 2})
    with Harness(app) as kafka:
        for i in range(8):
            kafka.produce("orders", i)
        kafka.run()
        offsets = [offset for offset, _ in seen]
        assert offsets == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7]  # nothing marked: from 0
        (error,) = kafka.events.named("error.occurred")
        assert error.payload["offset"] == 0  # where the retry restarts, as reported
        (retry,) = kafka.events.named("consumer.consuming.retry")
        assert retry.payload["offset"] == 0
        # the re-delivered messages before the failing batch are part of its retry
        assert [attempt for offset, attempt in seen[6:]] == [2] * 6 + [1, 1]


def test_re_delivered_messages_ahead_of_a_failure_do_not_reset_its_attempts() -> None:
    """The failing batch's attempts keep counting, so back-off grows and the DLQ is reached."""
    def consume(consumer: Consumer, messages: Messages) -> None:
        if any(m.offset == 2 for m in messages):
            raise RuntimeError("poison at 2")

    app = app_with(consume, manual_offset_management=True,
                   dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=2),
                   app_options={"max_messages": 2})
    with Harness(app) as kafka:
        for i in range(4):
            kafka.produce("orders", i)
        kafka.run(max_polls=200)
        assert [m.headers["source_offset"] for m in kafka.topic("orders.dlq")] == [b"2"]
        timeouts = [e.payload["timeout"] for e in kafka.events.named("consumer.consuming.retry")]
        assert timeouts == [1.0, 2.0]  # growing: the retries of [0, 1] did not reset it


def test_an_automatic_retry_after_marked_batches_starts_at_the_failing_batch() -> None:
    seen: list[int] = []
    failed: list[bool] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.extend(m.offset for m in messages)
        if messages.metadata.first_offset == 4 and not failed:
            failed.append(True)
            raise RuntimeError("once")

    with Harness(app_with(consume, app_options={"max_messages": 2})) as kafka:
        for i in range(8):
            kafka.produce("orders", i)
        kafka.run()
        assert seen == [0, 1, 2, 3, 4, 5, 4, 5, 6, 7]  # the earlier batches were marked


# -- 2: back-off is defined for any number of attempts ---------------------------------------

def test_back_off_past_a_thousand_attempts_stays_at_the_cap() -> None:
    backoff = Backoff(1.0, 30.0)
    assert [backoff.after(n) for n in (1, 2, 6, 1024, 1025, 10**6)] == [
        1.0, 2.0, 30.0, 30.0, 30.0, 30.0]


def test_a_partition_failing_past_1024_attempts_stays_paused_and_is_never_skipped() -> None:
    processed: list[int] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        if messages.first().offset == 0:  # type: ignore[union-attr]
            raise RuntimeError("poison")
        processed.extend(m.offset for m in messages)

    app = app_with(consume, app_options={"pause_timeout": 0.001, "pause_max_timeout": 0.001,
                                         "max_messages": 1})
    with Harness(app) as kafka:
        kafka.produce("orders", "poison")
        kafka.produce("orders", "next")
        with pytest.raises(Stuck):
            kafka.run(max_polls=1100)
        assert processed == []  # never past the failing message
        kafka.stop()
        assert kafka.committed("orders", 0) is None
        types = {e.payload["type"] for e in kafka.events.named("error.occurred")}
        assert types == {"consumer.consume.error"}  # no engine failure on the way


# -- 3: an async consume is refused, never marked ----------------------------------------------

def test_an_async_hook_of_a_sync_consume_is_refused_when_routed() -> None:
    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

        async def revoked(self) -> None:  # type: ignore[override]
            pass

        async def eofed(self) -> AsyncIterator[None]:  # type: ignore[override]
            yield

    app = App(kafka=KAFKA)
    with pytest.raises(RoutingError) as refused:
        app.topic("orders", Orders)
    text = str(refused.value)
    assert "Orders.revoked is 'async def' but consume is a plain 'def'" in text
    assert "Orders.eofed is an async generator" in text


def test_a_consume_returning_a_coroutine_fails_its_batch_instead_of_marking_it() -> None:
    async def later() -> None:
        raise AssertionError("never run")

    class Sneaky(Consumer):
        def consume(self, messages: Messages) -> None:
            return later()  # type: ignore[return-value]

    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", Sneaky)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        with pytest.raises(Stuck):
            kafka.run(max_polls=5)
        kafka.stop()
        assert kafka.committed("orders", 0) is None
        error = kafka.events.named("error.occurred")[0].payload["error"]
        assert isinstance(error, TypeError) and "awaitable" in str(error)


# -- 4: a BaseException is never dead-lettered -------------------------------------------------

def test_a_base_exception_is_retried_with_back_off_and_never_dead_lettered() -> None:
    raised: list[int] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        if len(raised) < 3:
            raised.append(consumer.attempt)
            raise KeyboardInterrupt  # the process is going, not the message's fault

    app = app_with(consume, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=0))
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.topic("orders.dlq") == []
        assert raised == [1, 2, 3]
        timeouts = [e.payload["timeout"] for e in kafka.events.named("consumer.consuming.retry")]
        assert timeouts == [1.0, 2.0, 4.0]
        kafka.stop()
        assert kafka.committed("orders", 0) == 1


# -- 5: the dead-letter copy names the error ---------------------------------------------------

class PaymentDeclinedError(Exception):
    """A user's own error type."""


def test_the_dead_letter_copy_names_the_error_type_and_message_bounded() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        payload = messages.first().payload  # type: ignore[union-attr]
        if payload == "long":
            raise ValueError("é" * 5000)
        raise PaymentDeclinedError("card 4242 declined")

    app = app_with(consume, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=0))
    with Harness(app) as kafka:
        kafka.produce("orders", "declined")
        kafka.produce("orders", "long")
        kafka.run()
        declined, long = kafka.topic("orders.dlq")
        assert declined.headers["error_type"] == (
            f"{__name__}.PaymentDeclinedError".encode())
        assert declined.headers["error_message"] == b"card 4242 declined"
        assert long.headers["error_type"] == b"ValueError"
        message = long.headers["error_message"]
        assert message is not None and len(message) <= 1024  # bounded
        assert message.endswith(b"...") and message.decode().startswith("é" * 100)
        (event, _) = kafka.events.named("dead_letter_queue.dispatched")
        assert isinstance(event.payload["error"], PaymentDeclinedError)


# -- 12: a deserialization error chains only its cause -----------------------------------------

def test_a_deserialization_error_chains_only_the_deserializers_own_error() -> None:
    message = Message.of(FakeRaw("orders", 0, 7, value=b"{not json"), "orders", 0)
    with pytest.raises(DeserializationError) as raised:
        _ = message.payload
    text = "".join(traceback.format_exception(raised.value))
    assert "JSONDecodeError" in text
    assert "AttributeError" not in text and "has no attribute" not in text


def test_a_manual_long_running_job_that_marks_nothing_goes_on_after_its_batch() -> None:
    """Found on the way: its partition was sought back to the batch, for ever."""
    seen: list[list[int]] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.append([m.offset for m in messages])

    app = app_with(consume, manual_offset_management=True, long_running_job=True,
                   app_options={"max_messages": 2})
    with Harness(app) as kafka:
        for i in range(4):
            kafka.produce("orders", i)
        kafka.run(max_polls=20)
        assert seen == [[0, 1], [2, 3]]
        kafka.stop()
        assert kafka.committed("orders", 0) is None  # marking is the consumer's
