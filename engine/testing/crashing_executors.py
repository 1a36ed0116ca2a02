"""The harness's executors: the engine's own, with each consume call recorded and crashable.

``crashing_executor`` builds a partition's: ``CrashingExecutor`` (sync consumers) or
``CrashingAsyncExecutor`` (async ones), both watched by one ``ConsumeRecorder`` (the history's
record of the call, the armed ``crash(after=k)``; see ``engine.testing.crash``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.aio.executor import AsyncExecutor
from engine.messages import Messages, RawMessage
from engine.messages.deserializers import Deserializers
from engine.processing.death import ProcessDeath
from engine.processing.executor import Executor
from engine.testing.crash import CrashPlan, TakenMessages

if TYPE_CHECKING:
    from engine.consumer import Consumer
    from engine.instrumentation.monitor import Monitor
    from engine.processing.outcome import Outcome
    from engine.processing.partition_context import PartitionContext
    from engine.routing.topic import Topic
    from engine.testing.history import History


class ConsumeRecorder:
    """The harness's watch over consume calls: recorded in the history, crashed as planned.

    Shared by the sync and the async executor of the harness (one per partition).
    """

    def __init__(self, *, consumer_group: str, plan: CrashPlan, history: History,
                 wall_offset: float, member: int = 0) -> None:
        self._wall_offset = wall_offset
        self._group = consumer_group
        self._member = member
        self._plan = plan
        self._history = history
        self.crash_after: int | None = None

    def batch(self, raws: Sequence[RawMessage], topic: str, partition: int, polled_at: float,
              deserializers: Deserializers) -> TakenMessages:
        """The batch, watched for what the consumer takes (its lag on the virtual clock)."""
        batch = TakenMessages(raws, topic, partition, polled_at, deserializers)
        batch.metadata.wall_offset = self._wall_offset
        return batch

    def begin(self, consumer: Consumer, messages: Messages, attempt: int) -> Recording:
        """A consume call starts: its history record, and the crash armed for it."""
        assert isinstance(messages, TakenMessages)
        job = self._history.begin(self._group, consumer, messages, attempt, member=self._member)
        limit = self.crash_after = self._plan.take()
        return Recording(job, limit, messages)

    def consumed(self, messages: Messages, report: Callable[[], None]) -> None:
        """``report`` (the ``consumer.consumed`` event) with receivers taking nothing."""
        assert isinstance(messages, TakenMessages)
        later = messages.later
        messages.keep(None)
        try:
            report()
        finally:
            messages.keep(later)

    @contextmanager
    def watching(self, messages: Messages) -> Iterator[None]:
        """Around the consumer's own call: what it takes counts (and may crash it)."""
        assert isinstance(messages, TakenMessages)
        messages.watch(self.crash_after, self._plan.on_death)
        try:
            yield
        finally:
            messages.unwatch()


class Recording:
    """One consume call's history record, ended by how the call ended."""

    def __init__(self, job: Any, limit: int | None, messages: TakenMessages) -> None:
        self._job, self._limit, self._messages = job, limit, messages

    def failed(self, error: BaseException) -> None:
        """The call raised ``error``: failed, or crashed (re-raised as a death then)."""
        if isinstance(error, ProcessDeath):
            self._job.end("crashed")
            return
        self._job.end("failed" if self._limit is None else "crashed", error)
        if self._limit is not None:
            raise ProcessDeath("crash at the end of a failed consume") from None

    def returned(self) -> None:
        """The call returned: passed, or crashed as it returned when a crash was armed."""
        if self._limit is not None:  # the batch ran out before the limit: dies as it returns
            self._job.end("crashed", returned=True)
            raise ProcessDeath("crash as consume returned")
        self._job.end("ok")
        self._messages.keep(self._job.taken_later)


class CrashingExecutor(Executor):
    """The engine's executor, with its consume call recorded in the history and crashable."""

    def __init__(self, route: Topic, partition: int, context: PartitionContext, monitor: Monitor,
                 clock: Callable[[], float], *, recorder: ConsumeRecorder) -> None:
        super().__init__(route, partition, context, monitor, clock)
        self._recorder = recorder

    def batch(self, raws: Sequence[RawMessage], polled_at: float) -> Messages:
        """The batch, watched for what the consumer takes (its lag on the virtual clock)."""
        return self._recorder.batch(raws, self.topic, self.partition, polled_at,
                                    self._deserializers)

    def _consume(self, consumer: Consumer, messages: Messages) -> None:
        recording = self._recorder.begin(consumer, messages, self.context.attempt)
        try:
            super()._consume(consumer, messages)
        except BaseException as error:
            recording.failed(error)
            raise
        recording.returned()

    def consumed(self, outcome: Outcome, messages: Messages) -> None:
        """As the engine's; event receivers reading the batch take nothing."""
        self._recorder.consumed(messages, lambda: super(CrashingExecutor, self).consumed(
            outcome, messages))

    def _call(self, consumer: Consumer, messages: Messages) -> None:
        """The consumer's own call, watched (event receivers reading the batch take nothing)."""
        with self._recorder.watching(messages):
            super()._call(consumer, messages)


class CrashingAsyncExecutor(AsyncExecutor):
    """``CrashingExecutor`` for an async consumer: the awaited consume recorded, crashable."""

    def __init__(self, route: Topic, partition: int, context: PartitionContext, monitor: Monitor,
                 clock: Callable[[], float], *, recorder: ConsumeRecorder,
                 stall_threshold: float) -> None:
        super().__init__(route, partition, context, monitor, stall_threshold, clock)
        self._recorder = recorder

    def batch(self, raws: Sequence[RawMessage], polled_at: float) -> Messages:
        """The batch, watched for what the consumer takes (its lag on the virtual clock)."""
        return self._recorder.batch(raws, self.topic, self.partition, polled_at,
                                    self._deserializers)

    async def _consume_async(self, consumer: Consumer, messages: Messages) -> None:
        recording = self._recorder.begin(consumer, messages, self.context.attempt)
        try:
            await super()._consume_async(consumer, messages)
        except BaseException as error:
            recording.failed(error)
            raise
        recording.returned()

    def consumed(self, outcome: Outcome, messages: Messages) -> None:
        """As the engine's; event receivers reading the batch take nothing."""
        self._recorder.consumed(messages, lambda: super(CrashingAsyncExecutor, self).consumed(
            outcome, messages))

    async def _call_async(self, consumer: Consumer, messages: Messages) -> None:
        """The consumer's own call, watched."""
        with self._recorder.watching(messages):
            await super()._call_async(consumer, messages)


def crashing_executor(route: Topic, partition: int, context: PartitionContext,
                      monitor: Monitor, clock: Callable[[], float], *,
                      stall_threshold: float, **recorder: Any) -> Executor:
    """The harness's executor of a partition: async for an async consumer's route."""
    watch = ConsumeRecorder(**recorder)
    if route.is_async:
        return CrashingAsyncExecutor(route, partition, context, monitor, clock,
                                     recorder=watch, stall_threshold=stall_threshold)
    return CrashingExecutor(route, partition, context, monitor, clock, recorder=watch)
