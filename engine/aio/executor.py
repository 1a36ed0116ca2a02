"""The executor of an async consumer: its hooks awaited on the app's event loop.

The same reports and outcomes as ``Executor`` (which it extends), with the consumer's
coroutines timed step by step (``stalls``): a step over ``stall_threshold`` is reported as
``consumer.loop.blocked``. Hooks of an async consumer may be ``async def`` or plain ``def``;
``wrap`` may return an async context manager or a plain one.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.aio.stalls import timed_steps
from engine.consumer import Consumer
from engine.errors import LoopBlockedError
from engine.processing.death import ProcessDeath
from engine.processing.executor import HOOK_EVENTS, Executor
from engine.processing.outcome import Outcome

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.processing.partition_context import PartitionContext
    from engine.routing.topic import Topic

AsyncCall = Callable[..., Awaitable[None]]


class AsyncExecutor(Executor):
    """Runs an async consumer's hooks as awaitables (on the loop's thread only)."""

    on_loop = True

    def __init__(self, route: Topic, partition: int, context: PartitionContext,
                 monitor: Monitor, stall_threshold: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(route, partition, context, monitor, clock)
        self._stall_threshold = stall_threshold

    async def consume_async(self, messages: Messages) -> Outcome:
        """Await ``consume`` on one batch; building the consumer is part of it."""
        consumer = self.consumer
        if consumer is None:
            consumer, error = await self._build_async()
            if consumer is None:
                return Outcome(None, error)
        attempt, before = self._begin(consumer, messages)
        error = await self._run_async("consume", consumer, self._consume_async, consumer,
                                      messages)
        return Outcome(consumer, error, attempt, self._took if error is None else 0.0, before)

    async def hook_async(self, action: str) -> None:
        """Await the ``revoked``, ``shutdown`` or ``eofed`` hook (as ``Executor``'s verbs)."""
        if action == "eofed" and self.consumer is None:
            await self._build_async()  # the eofed hook may come before any batch
        consumer = self.consumer
        if consumer is None:
            return
        before, after = HOOK_EVENTS[action]
        hook: Callable[[], Any] = getattr(consumer, action)
        await self._run_async(action, consumer, self._measured_async, consumer, before, after,
                              hook)

    async def _consume_async(self, consumer: Consumer, messages: Messages) -> None:
        if self._consume_signal.receivers:
            self.monitor.instrument("consumer.consume", consumer, topic=self.topic,
                                    partition=self.partition, messages=messages,
                                    attempt=self.context.attempt, **self.context.event_tags)
        await self._call_async(consumer, messages)

    async def _call_async(self, consumer: Consumer, messages: Messages) -> None:
        """The consumer's own ``consume``, awaited and timed (the harness watches this part)."""
        started = time.perf_counter()
        await self._awaited(consumer, "consume", consumer.consume, messages)
        self._took = time.perf_counter() - started

    async def _measured_async(self, consumer: Consumer, before: str, after: str,
                              hook: Callable[[], Any]) -> None:
        tags = self.context.event_tags
        self.monitor.instrument(before, consumer, topic=self.topic, partition=self.partition,
                                **tags)
        started = time.perf_counter()
        await self._awaited(consumer, hook.__name__, hook)
        self.monitor.instrument(after, consumer, topic=self.topic, partition=self.partition,
                                time=time.perf_counter() - started, **tags)

    async def _build_async(self) -> tuple[Consumer | None, BaseException | None]:
        started = time.perf_counter()
        consumer, error = self._construct()
        if consumer is None:
            return None, error
        try:
            await self._awaited(consumer, "initialized", consumer.initialized)
        except ProcessDeath:
            raise
        except BaseException as failure:  # noqa: BLE001 - user hook (or a cancel): retried
            return self._unbuilt(consumer, failure)
        self._built(consumer, started)
        return consumer, None

    async def _awaited(self, consumer: Consumer, action: str, hook: Callable[..., Any],
                       *args: Any) -> None:
        """Call a hook and await what it returned, each step timed for stalls.

        A plain ``def`` hook ran whole when called: all of it held the loop.
        """
        started = time.perf_counter()
        result = hook(*args)
        if inspect.iscoroutine(result):
            await timed_steps(result, self._stall_threshold, self._stalled(consumer, action))
        elif inspect.isawaitable(result):
            await result
        else:
            took = time.perf_counter() - started
            if took > self._stall_threshold:
                self._stalled(consumer, action)(took)

    def _stalled(self, consumer: Consumer, action: str) -> Callable[[float], None]:
        """What reports a stall of ``consumer``'s ``action``."""

        def stalled(seconds: float) -> None:
            self._report("consumer.loop.blocked", consumer, LoopBlockedError(
                f"{type(consumer).__qualname__}.{action} held the event loop for"
                f" {seconds:.3f}s: a blocking call inside 'async def' stalls every async"
                " consumer of the app (await it, or run it with asyncio.to_thread)"),
                action=action, stalled=seconds)

        return stalled

    async def _run_async(self, action: str, consumer: Consumer, call: AsyncCall, *args: Any
                         ) -> BaseException | None:
        """``_run`` awaited: ``call(*args)`` inside ``wrap`` (a plain or an async one)."""
        if type(consumer).wrap is Consumer.wrap:
            return await self._guarded_async(action, consumer, call, args)
        failure: BaseException | None = None
        try:
            manager: Any = consumer.wrap(action)
            if hasattr(manager, "__aenter__"):
                async with manager:
                    failure = await self._guarded_async(action, consumer, call, args)
            else:
                with manager:
                    failure = await self._guarded_async(action, consumer, call, args)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - user hook; reported, never fatal
            self._report("consumer.wrap.error", consumer, error, action=action)
            return failure or error
        return failure

    async def _guarded_async(self, action: str, consumer: Consumer, call: AsyncCall,
                             args: tuple[Any, ...]) -> BaseException | None:
        try:
            await call(*args)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - user code (a cancellation too)
            self._failed(action, consumer, error)
            return error
        return None

