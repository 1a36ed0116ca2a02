"""One executor per (topic, partition): builds the user's consumer and runs its hooks."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine.consumer import Consumer
from engine.errors import DeserializationError
from engine.messages import Messages, RawMessage
from engine.messages.deserializers import deserializers_of
from engine.processing.death import ProcessDeath
from engine.processing.outcome import Outcome

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.processing.partition_context import PartitionContext
    from engine.routing.topic import Topic


HOOK_EVENTS = {
    "revoked": ("consumer.revoke", "consumer.revoked"),
    "shutdown": ("consumer.shutting_down", "consumer.shutdown"),
    "eofed": ("consumer.eof", "consumer.eofed"),
}
"""The events sent before and after each hook other than ``consume``."""

_HOOK_ERRORS = {
    "revoked": "consumer.revoked.error",
    "shutdown": "consumer.shutdown.error",
    "eofed": "consumer.eofed.error",
}


def _refuse_awaitable(consumer: Consumer, result: Any) -> None:
    """``consume`` returned an awaitable: its work never ran, so the batch is a failure."""
    if inspect.iscoroutine(result):
        result.close()  # never awaited, on purpose: no "never awaited" warning later
    raise TypeError(
        f"{type(consumer).__qualname__}.consume returned {type(result).__name__}, an awaitable"
        " this engine does not await: its messages were not processed (make consume a plain"
        " 'def')")


class Executor:
    """Runs the hooks of one partition's consumer instance, reporting every outcome.

    It decides nothing about offsets: ``consume`` returns an ``Outcome`` for the strategy.
    Anything a hook raises, ``BaseException`` included (``SystemExit``, ``CancelledError``),
    is that hook's failure: reported, never the worker's end. A ``ProcessDeath`` (the testing
    kit's SIGKILL) is the one exception that goes through untouched.
    """

    def __init__(self, route: Topic, partition: int, context: PartitionContext, monitor: Monitor,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.route = route
        self._clock = clock
        self.topic = route.name
        self.partition = partition
        self.monitor = monitor
        self.consumer: Consumer | None = None
        self.context = context
        self._deserializers = deserializers_of(route.deserializer, route.key_deserializer)
        self._consume_signal = monitor.signal("consumer.consume")
        self._consumed_signal = monitor.signal("consumer.consumed")
        self._took = 0.0  # seconds the last consume call took (one job at a time per partition)

    def batch(self, raws: Sequence[RawMessage], polled_at: float) -> Messages:
        """Wrap polled messages of this partition as one batch (listener thread)."""
        return Messages(raws, self.topic, self.partition, polled_at, self._deserializers)

    on_loop = False
    """Whether the jobs of this executor run on the app's event loop (``AsyncExecutor``)."""

    def consume(self, messages: Messages) -> Outcome:
        """Run ``consume`` on one batch (worker thread); building the consumer is part of it."""
        consumer = self.consumer
        if consumer is None:
            consumer, error = self._build()
            if consumer is None:
                return Outcome(None, error)
        attempt, before = self._begin(consumer, messages)
        error = self._run("consume", consumer, self._consume, consumer, messages)  # no closure
        return Outcome(consumer, error, attempt, self._took if error is None else 0.0, before)

    def _begin(self, consumer: Consumer, messages: Messages) -> tuple[int, int | None]:
        """Hand the batch to the consumer; the attempt, and the first unmarked offset before."""
        context = self.context
        context.batch = messages
        consumer.messages = messages
        messages.metadata.processed_at = self._clock()
        return context.attempt, context.state.first_unmarked

    def _consume(self, consumer: Consumer, messages: Messages) -> None:
        attempt = self.context.attempt
        if self._consume_signal.receivers:
            self.monitor.instrument("consumer.consume", consumer, topic=self.topic,
                                    partition=self.partition, messages=messages, attempt=attempt,
                                    **self.context.event_tags)
        self._call(consumer, messages)

    def _call(self, consumer: Consumer, messages: Messages) -> None:
        """The consumer's own ``consume``, timed (the harness watches only this part)."""
        started = time.perf_counter()
        # typed to return None, but an 'async def' override returns a coroutine it never ran
        result: Any = consumer.consume(messages)  # type: ignore[func-returns-value]
        if result is not None and inspect.isawaitable(result):
            _refuse_awaitable(consumer, result)
        self._took = time.perf_counter() - started

    def consumed(self, outcome: Outcome, messages: Messages) -> None:
        """Report a batch whose ``consume`` returned, once the strategy has marked it.

        Sent after the strategy so that ``marked`` counts the messages marked as consumed
        during the batch, by the consumer itself or by the automatic marking: how far the
        first unmarked offset moved (messages of earlier batches a mark covers count too;
        metrics count processed messages with it; a batch left unmarked is processed again).
        """
        if outcome.error is None and self._consumed_signal.receivers:
            self.monitor.instrument(
                "consumer.consumed", outcome.consumer, topic=self.topic,
                partition=self.partition, messages=messages, attempt=outcome.attempt,
                time=outcome.time,
                marked=_marked(outcome.unmarked_before, self.context.state.first_unmarked),
                **self.context.event_tags,
            )

    def revoked(self) -> None:
        """Run the ``revoked`` hook (the partition is already marked revoked)."""
        self._hook("revoked")

    def shutdown(self) -> None:
        """Run the ``shutdown`` hook."""
        self._hook("shutdown")

    def eofed(self) -> None:
        """Run the ``eofed`` hook (building the consumer if no batch did yet)."""
        if self.consumer is None and self._build()[0] is None:
            return
        self._hook("eofed")

    def _hook(self, action: str) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        before, after = HOOK_EVENTS[action]
        hook: Callable[[], None] = getattr(consumer, action)
        self._run(action, consumer, self._measured, consumer, before, after, hook)

    def _build(self) -> tuple[Consumer | None, BaseException | None]:
        """Build the consumer; a constructor that raises is reported and counts as a failure."""
        started = time.perf_counter()
        consumer, error = self._construct()
        if consumer is None:
            return None, error
        try:
            consumer.initialized()
        except ProcessDeath:
            raise
        except BaseException as failure:  # noqa: BLE001 - user hook; the batch is retried
            return self._unbuilt(consumer, failure)
        self._built(consumer, started)
        return consumer, None

    def _construct(self) -> tuple[Consumer | None, BaseException | None]:
        """The consumer instance, attached to this partition (its hook not run yet)."""
        try:
            consumer = self.route.consumer_class()
        except BaseException as error:  # noqa: BLE001 - user code; the batch is retried
            self._report("consumer.initialized.error", None, error,
                         offset=self.context.state.first_unmarked)
            return None, error
        consumer.topic, consumer.partition = self.topic, self.partition
        consumer.consumer_group = self.route.consumer_group
        consumer._runtime = self.context
        self.context.consumer = self.consumer = consumer
        return consumer, None

    def _unbuilt(self, consumer: Consumer, failure: BaseException) -> tuple[None, BaseException]:
        """``initialized`` failed: reported, the instance dropped (the retry builds anew).

        Like a constructor that raises: a consumer whose setup failed (a client not made)
        would fail every batch after it.
        """
        self._report("consumer.initialized.error", consumer, failure,
                     offset=self.context.state.first_unmarked)
        self.context.consumer = self.consumer = None
        return None, failure

    def _built(self, consumer: Consumer, started: float) -> None:
        self.monitor.instrument("consumer.initialized", consumer, topic=self.topic,
                                partition=self.partition, time=time.perf_counter() - started,
                                **self.context.event_tags)

    def _measured(
        self, consumer: Consumer, before: str, after: str, hook: Callable[[], None]
    ) -> None:
        tags = self.context.event_tags
        self.monitor.instrument(before, consumer, topic=self.topic, partition=self.partition,
                                **tags)
        started = time.perf_counter()
        hook()
        self.monitor.instrument(after, consumer, topic=self.topic, partition=self.partition,
                                time=time.perf_counter() - started, **tags)

    def _run(self, action: str, consumer: Consumer, call: Callable[..., None], *args: Any
             ) -> BaseException | None:
        """Run ``call(*args)`` inside the consumer's ``wrap``; the hook's error, else ``wrap``'s."""
        if type(consumer).wrap is Consumer.wrap:
            return self._guarded(action, consumer, call, args)
        failure: BaseException | None = None
        try:
            with consumer.wrap(action):
                failure = self._guarded(action, consumer, call, args)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - user hook; reported, never fatal
            self._report("consumer.wrap.error", consumer, error, action=action)
            return failure or error
        return failure

    def _guarded(self, action: str, consumer: Consumer, call: Callable[..., None],
                 args: tuple[Any, ...]) -> BaseException | None:
        try:
            call(*args)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - user code; reported, never fatal
            self._failed(action, consumer, error)
            return error
        return None

    def _failed(self, action: str, consumer: Consumer, error: BaseException) -> None:
        """Report what a hook raised: a consume error names its first unprocessed offset."""
        if action != "consume":
            self._report(_HOOK_ERRORS[action], consumer, error)
            return
        kind = ("consumer.deserialize.error" if isinstance(error, DeserializationError)
                else "consumer.consume.error")
        offsets = (message.offset for message in consumer.messages)
        self._report(kind, consumer, error, offset=self.context.state.next_unmarked(offsets))

    def _report(self, kind: str, consumer: Any, error: BaseException, **context: Any) -> None:
        self.monitor.instrument("error.occurred", consumer, type=kind, error=error,
                                topic=self.topic, partition=self.partition, **context,
                                **self.context.event_tags)


def _marked(before: int | None, after: int | None) -> int:
    """Offsets marked as consumed while a batch ran: how far the first unmarked one moved.

    A consumer's seek back moves it backwards: nothing was marked then.
    """
    return 0 if before is None or after is None else max(0, after - before)
