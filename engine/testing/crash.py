"""How ``crash(after=k)`` kills the process inside a consume job, after k messages were taken."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, overload

from engine.aio.executor import AsyncExecutor
from engine.messages import Message, Messages, RawMessage
from engine.messages.deserializers import DEFAULT, Deserializers
from engine.processing.death import ProcessDeath
from engine.processing.executor import Executor

if TYPE_CHECKING:
    from engine.consumer import Consumer
    from engine.instrumentation.monitor import Monitor
    from engine.processing.outcome import Outcome
    from engine.processing.partition_context import PartitionContext
    from engine.routing.topic import Topic
    from engine.testing.history import History


class CrashPlan:
    """A crash waiting for the next consume job (``after``: messages it may take first)."""

    def __init__(self) -> None:
        self._after: int | None = None

    def arm(self, after: int) -> None:
        """Crash the next consume job once its consumer took ``after`` messages."""
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError(f"crash(after=...) takes an integer >= 0 (got {after!r})")
        self._after = after

    @property
    def armed(self) -> bool:
        """Whether a crash waits."""
        return self._after is not None

    def take(self) -> int | None:
        """The armed limit, disarmed now (None when nothing waits)."""
        after, self._after = self._after, None
        return after


class TakenMessages(Messages):
    """A batch that knows which messages the consumer took.

    Taking is iterating, indexing, ``first()``, ``last()``, ``payloads`` or reading through
    ``raw``. While a crash is armed, taking one message more than allowed raises
    ``ProcessDeath``. A batch the consumer keeps (a buffering sink) and reads after its call
    returned is taken then, each message reported to ``later``. Only the harness hands these
    out: production batches count nothing.
    """

    __slots__ = ("_last", "_later", "_limit", "_order", "_taken", "_watching")

    def __init__(self, raws: Sequence[RawMessage], topic: str, partition: int,
                 polled_at: float, deserializers: Deserializers = DEFAULT) -> None:
        super().__init__(raws, topic, partition, polled_at, deserializers)
        self._taken: set[int] = set()
        self._order: list[int] = []  # indexes taken while watched, in the order taken
        self._last: int | None = None
        self._watching = False
        self._limit: int | None = None
        self._later: Callable[[int], None] | None = None

    @property
    def taken_offsets(self) -> list[int]:
        """Offsets of the messages taken while watched, in offset order."""
        return [self._raws[index].offset() or 0 for index in sorted(self._taken)]

    @property
    def taken_in_order(self) -> list[Message]:
        """The messages taken while watched, in the order taken (reading them takes none)."""
        cache, origin = self._cache, self._origin
        return [cache.get(index) or Message(self._raws[index], origin) for index in self._order]

    @property
    def last_taken(self) -> int | None:
        """The offset of the message the consumer took last (None: none yet)."""
        return None if self._last is None else self._raws[self._last].offset() or 0

    @property
    def delivered(self) -> Sequence[RawMessage]:
        """Every polled message, read without taking any (what the history records)."""
        return self._raws

    @property
    def raw(self) -> Sequence[RawMessage]:
        """As ``Messages.raw``; each message read through it counts as taken."""
        return TakenRaws(self)

    def watch(self, limit: int | None) -> None:
        """Count what the consumer takes from now on; die past ``limit`` (None: never)."""
        self._watching, self._limit = True, limit

    @property
    def later(self) -> Callable[[int], None] | None:
        """Where messages taken after the call are reported (None: nowhere)."""
        return self._later

    def unwatch(self) -> None:
        """Stop counting (the consume call ended)."""
        self._watching, self._limit = False, None

    def keep(self, later: Callable[[int], None] | None) -> None:
        """From now on, report the offset of each message taken for the first time to ``later``.

        None stops reporting (while event receivers read the batch, say).
        """
        self._later = later

    def __iter__(self) -> Iterator[Message]:
        """As ``Messages``, counting each message as it is taken."""
        cache, origin, take = self._cache, self._origin, self.take
        for index, raw in enumerate(self._raws):
            take(index)
            yield cache.get(index) or Message(raw, origin)

    def __getitem__(self, index: int) -> Message:
        """As ``Messages``, counting the message taken."""
        if index < 0:
            index += len(self._raws)
        if 0 <= index < len(self._raws):
            self.take(index)
        return super().__getitem__(index)

    def take(self, index: int) -> None:
        """The consumer took the message at ``index`` (dies first if that is one too many)."""
        if index in self._taken:
            return
        if not self._watching:
            self._take_later(index)
            return
        if self._limit is not None and len(self._taken) >= self._limit:
            raise ProcessDeath(f"crash after {self._limit} message(s) of {self!r}")
        self._taken.add(index)
        self._order.append(index)
        self._last = index

    def _take_later(self, index: int) -> None:
        if self._later is not None:
            self._taken.add(index)
            self._later(self._raws[index].offset() or 0)


class TakenRaws(Sequence[RawMessage]):
    """``messages.raw`` of a watched batch: reading a message (index, slice, loop) takes it.

    ``len()`` takes nothing; a slice takes each message in it as it is made.
    """

    __slots__ = ("_batch",)

    def __init__(self, batch: TakenMessages) -> None:
        self._batch = batch

    def __len__(self) -> int:
        """How many messages the batch holds."""
        return len(self._batch.delivered)

    @overload
    def __getitem__(self, index: int) -> RawMessage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RawMessage]: ...

    def __getitem__(self, index: int | slice) -> RawMessage | Sequence[RawMessage]:
        """The raw message(s) at ``index``, taken."""
        raws = self._batch.delivered
        if isinstance(index, slice):
            for position in range(*index.indices(len(raws))):
                self._batch.take(position)
            return raws[index]
        position = index + len(raws) if index < 0 else index
        if 0 <= position < len(raws):
            self._batch.take(position)
        return raws[index]

    def __iter__(self) -> Iterator[RawMessage]:
        """The raw messages in order, each taken as it is reached."""
        for index, raw in enumerate(self._batch.delivered):
            self._batch.take(index)
            yield raw


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
        messages.watch(self.crash_after)
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
