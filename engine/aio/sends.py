"""Async sends: a message handed to the producer at once, its acknowledgement awaited.

``AsyncSends.send`` enqueues on the caller's step (a send forgotten without ``await`` is still
sent) and returns a task that resolves when the broker acknowledged, or raises
``ProduceError`` (failed, or not acknowledged within its timeout). Delivery reports are served
by one polling task while any send waits, never a thread per send; a full producer queue is
waited on without blocking the loop. A report that comes when nobody waits any more (the send
timed out, was cancelled, the loop closed) and says the delivery failed is reported as
``producer.delivery.error``: never lost silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.aio.guards import running_loop
from engine.errors import ProduceError

PUMP_INTERVAL = 0.001
"""Seconds between two polls for the delivery reports async sends wait for."""

Report = Callable[[Any, str], None]
"""Reports a failed delivery nobody waits for: ``(error, topic)``."""


class AsyncSends:
    """The async sends of one producer, made from one event loop at a time.

    ``client`` returns the producer's client; ``options`` builds the client's ``produce``
    options from key, headers, partition and the delivery callback.
    """

    def __init__(self, client: Callable[[], Any], options: Callable[..., dict[str, Any]],
                 report: Report) -> None:
        self._client = client
        self._options = options
        self._report = report
        self._waiting = 0  # sends waiting for their report (the loop thread's own)
        self._pumping: asyncio.Task[None] | None = None

    def send(self, topic: str, payload: bytes | None, *, key: Any = None, headers: Any = None,
             partition: int | None = None, timeout: float = 30.0) -> asyncio.Task[None]:
        """Enqueue now; the task resolves on the acknowledgement (``ProduceError`` else)."""
        loop = running_loop("produce_async")
        future: asyncio.Future[Any] = loop.create_future()
        options = self._options(key, headers, partition, self._delivered(loop, future, topic))
        deadline = loop.time() + timeout
        client = self._client()
        try:
            client.produce(topic, payload, **options)
        except BufferError:
            waiting = self._later(client, topic, payload, options, future, deadline, timeout)
        else:
            waiting = self._acknowledged(future, deadline, topic, timeout)
        self._count(loop, client, 1)
        task = loop.create_task(waiting)
        # counted down when the task ends, however (cancelled before its first step too)
        task.add_done_callback(lambda _: self._count(loop, None, -1))
        return task

    async def _later(self, client: Any, topic: str, payload: bytes | None,
                     options: dict[str, Any], future: asyncio.Future[Any], deadline: float,
                     timeout: float) -> None:
        """A full producer queue: enqueue once deliveries made room, then wait as any send."""
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() >= deadline:
                raise ProduceError(f"sending to {topic!r}: the producer queue stayed full for"
                                   f" {timeout}s")
            await asyncio.sleep(PUMP_INTERVAL)  # the pump's deliveries make room
            try:
                client.produce(topic, payload, **options)
                break
            except BufferError:
                continue
        await self._acknowledged(future, deadline, topic, timeout)

    async def _acknowledged(self, future: asyncio.Future[Any], deadline: float, topic: str,
                            timeout: float) -> None:
        """Wait for the report until ``deadline``.

        A timer, not ``wait_for``: before 3.12 that could swallow a cancel that came with the
        report.
        """
        loop = asyncio.get_running_loop()
        timer = loop.call_later(max(0.0, deadline - loop.time()), _expire, future, topic,
                                timeout)
        try:
            error = await future
        finally:
            timer.cancel()
        if error is not None:
            raise ProduceError(f"sending to {topic!r} failed: {error}")

    def _delivered(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any],
                   topic: str) -> Callable[[Any, Any], None]:
        """The delivery callback (any thread that polls the client); it never raises."""

        def delivered(error: Any, message: Any) -> None:
            try:
                loop.call_soon_threadsafe(self._settle, future, error, topic)
            except RuntimeError:  # the loop closed: nobody waits for this send any more
                if error is not None:
                    self._report(error, topic)

        return delivered

    def _settle(self, future: asyncio.Future[Any], error: Any, topic: str) -> None:
        if not future.done():
            future.set_result(error)
        elif error is not None:  # its waiter gave up (timed out, cancelled): say it failed
            self._report(error, topic)

    def _count(self, loop: asyncio.AbstractEventLoop, client: Any, change: int) -> None:
        """Count sends waiting; a polling task serves their reports while any waits."""
        self._waiting += change
        if self._waiting > 0 and self._pumping is None and client is not None:
            self._pumping = loop.create_task(self._serve(client))

    async def _serve(self, client: Any) -> None:
        try:
            while self._waiting > 0:
                client.poll(0)
                await asyncio.sleep(PUMP_INTERVAL)
        finally:
            self._pumping = None


def _expire(future: asyncio.Future[Any], topic: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(ProduceError(f"sending to {topic!r} was not acknowledged within"
                                          f" {timeout}s"))
