"""``produce_async``: enqueued at once, acknowledged or failed, never a leak or a lost report."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine import NotRunningError, ProduceError
from engine.instrumentation.monitor import Monitor
from engine.producer import Producer


class Reports:
    """A client that keeps each delivery callback (the test fires it) and counts polls."""

    def __init__(self, full: int = 0) -> None:
        self.callbacks: list[Any] = []
        self.polls = 0
        self.full = full  # produce calls refused with BufferError first

    def produce(self, topic: str, value: Any, **options: Any) -> None:
        if self.full:
            self.full -= 1
            raise BufferError("queue full")
        self.callbacks.append(options["on_delivery"])

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def producer_over(client: Reports) -> tuple[Producer, list[dict[str, Any]]]:
    monitor = Monitor()
    errors: list[dict[str, Any]] = []
    monitor.subscribe("error.occurred", lambda sender, **event: errors.append(event))
    return Producer({"bootstrap.servers": "x:1"}, "c", monitor,
                    client_factory=lambda config: client), errors


def test_a_send_is_enqueued_at_once_and_resolves_on_the_acknowledgement() -> None:
    client = Reports()
    producer, _ = producer_over(client)

    async def main() -> None:
        sent = producer.produce_async("t", "x")
        assert len(client.callbacks) == 1  # handed over before any await
        client.callbacks[0](None, None)
        await sent

    asyncio.run(main())


def test_a_failed_delivery_raises_produce_error_in_the_waiter() -> None:
    client = Reports()
    producer, errors = producer_over(client)

    async def main() -> None:
        sent = producer.produce_async("t", "x")
        client.callbacks[0]("broker said no", None)
        with pytest.raises(ProduceError, match="broker said no"):
            await sent

    asyncio.run(main())
    assert errors == []  # the waiter was told: no second report


def test_a_late_failure_nobody_waits_for_is_reported_and_never_raises() -> None:
    client = Reports()
    producer, errors = producer_over(client)

    async def main() -> None:
        sent = producer.produce_async("t", "x", timeout=0.01)
        with pytest.raises(ProduceError, match="not acknowledged within"):
            await sent

    asyncio.run(main())  # the loop is closed now
    client.callbacks[0]("timed out in librdkafka", None)  # a poll from any thread, later
    assert [event["type"] for event in errors] == ["producer.delivery.error"]
    assert errors[0]["topic"] == "t"


def test_a_cancel_while_the_queue_is_full_stops_the_polling() -> None:
    client = Reports(full=10**6)
    producer, _ = producer_over(client)

    async def main() -> int:
        sent = producer.produce_async("t", "x")
        await asyncio.sleep(0.02)
        sent.cancel()
        await asyncio.gather(sent, return_exceptions=True)
        await asyncio.sleep(0.02)  # a pump that still ran would poll meanwhile
        before = client.polls
        await asyncio.sleep(0.02)
        return client.polls - before

    assert asyncio.run(main()) == 0


def test_a_cancel_that_meets_the_acknowledgement_is_not_swallowed() -> None:
    client = Reports()
    producer, _ = producer_over(client)
    after: list[str] = []

    async def consume() -> None:
        await producer.produce_async("t", "x")
        after.append("ran on after the cancel")

    async def main() -> None:
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.01)
        client.callbacks[0](None, None)  # the acknowledgement arrives...
        await asyncio.sleep(0)
        task.cancel()  # ...and the stop's cancel in the same iteration
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled() and after == []

    asyncio.run(main())


def test_outside_an_event_loop_produce_async_is_a_clear_error() -> None:
    producer, _ = producer_over(Reports())
    with pytest.raises(NotRunningError, match="produce_async needs a running event loop"):
        producer.produce_async("t", "x")
