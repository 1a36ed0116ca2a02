"""Jobs: one unit of work for one partition, scheduled by a listener and run by a worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.aio.off_loop import off_loop
from engine.processing.death import ProcessDeath

if TYPE_CHECKING:
    from engine.aio.executor import AsyncExecutor
    from engine.messages import Messages
    from engine.processing.executor import Executor
    from engine.processing.outcome import Outcome
    from engine.processing.partition_context import PartitionContext
    from engine.processing.strategies import DefaultStrategy


@dataclass(frozen=True)
class JobInfo:
    """The public shape of a job, as events carry it."""

    kind: str
    topic: str
    partition: int


class Job:
    """Base job: belongs to a listener's group, runs one executor action on a worker."""

    __slots__ = ("_public", "executor", "group_id", "on_loop")
    kind = "job"
    non_blocking = False

    def __init__(self, executor: Executor, group_id: str) -> None:
        self.executor = executor
        self.group_id = group_id
        self.on_loop = executor.on_loop  # an async consumer's job runs on the app's loop
        self._public: JobInfo | None = None

    @property
    def context(self) -> PartitionContext:
        """The context of the job's partition (the listener applies its effects after)."""
        return self.executor.context

    @property
    def public(self) -> JobInfo:
        """What events tell about this job: one object per job, from its start to its end.

        Receivers may key a running job by it (the loop runs many jobs at once under one
        sender).
        """
        public = self._public
        if public is None:
            public = self._public = JobInfo(self.kind, self.executor.topic,
                                            self.executor.partition)
        return public

    def run(self) -> None:
        """Run on a worker thread."""
        raise NotImplementedError

    async def run_async(self) -> None:
        """Run on the app's event loop (an async consumer's job)."""
        raise NotImplementedError

    def abandon(self) -> None:
        """The job was cancelled before it ran: leave its partition as a failure would."""

    def __repr__(self) -> str:
        """Kind and partition."""
        return f"{type(self).__name__}({self.executor.topic}/{self.executor.partition})"


class Consume(Job):
    """Process one batch."""

    __slots__ = ("messages", "strategy")
    kind = "consume"

    def __init__(self, executor: Executor, group_id: str, strategy: DefaultStrategy,
                 messages: Messages) -> None:
        super().__init__(executor, group_id)
        self.strategy = strategy
        self.messages = messages

    def run(self) -> None:
        """Consume the batch, apply the strategy (mark, or retry after a pause), report it."""
        self._settle(self.executor.consume(self.messages))

    async def run_async(self) -> None:
        """``run`` on the loop: a success settles there (marks), a failure off it.

        A failure may send to the dead-letter queue and wait for the broker's answer, which
        must not stall the loop's other jobs; so may any settling on a transactional app
        (a pending mark commits in a transaction).
        """
        outcome = await as_async(self.executor).consume_async(self.messages)
        if outcome.error is None and self.executor.context.transactions is None:
            self._settle(outcome)
        else:
            await off_loop(self._settle, outcome)

    def abandon(self) -> None:
        """Never ran: the batch is retried from its first unmarked offset."""
        self.executor.context.fail(message.offset for message in self.messages)

    def _settle(self, outcome: Outcome) -> None:
        """Apply the strategy to a consumed batch and report it.

        Should the strategy itself fail, the batch is retried from its first unmarked offset
        (the worker reports the error): nothing is skipped. ``consumer.consumed`` is sent
        either way (a receiver may close what ``consumer.consume`` opened).
        """
        executor = self.executor
        try:
            self.strategy.after_consume(executor.context, outcome, self.messages)
        except ProcessDeath:
            raise
        except BaseException:
            executor.context.fail()
            executor.consumed(outcome, self.messages)
            raise
        executor.consumed(outcome, self.messages)

    def __repr__(self) -> str:
        """Kind, partition and offsets."""
        meta = self.messages.metadata
        return (
            f"Consume({self.executor.topic}/{self.executor.partition}"
            f" @{meta.first_offset}..{meta.last_offset})"
        )


class LongConsume(Consume):
    """A batch of a ``long_running_job`` topic: the listener keeps polling while it runs.

    The partition is held (paused) meanwhile; ``finished`` tells the listener the job ended,
    whatever happened in it.
    """

    __slots__ = ("finished",)
    kind = "consume"
    non_blocking = True

    def __init__(self, executor: Executor, group_id: str, strategy: DefaultStrategy,
                 messages: Messages, finished: Callable[[], None]) -> None:
        super().__init__(executor, group_id, strategy, messages)
        self.finished = finished

    def run(self) -> None:
        """Consume and apply the strategy as any batch; then let the listener know."""
        try:
            super().run()
        finally:
            self.finished()

    async def run_async(self) -> None:
        """``run`` on the loop."""
        try:
            await super().run_async()
        finally:
            self.finished()

    def abandon(self) -> None:
        """Never ran: retried, and the listener told the job ended."""
        try:
            super().abandon()
        finally:
            self.finished()


class Revoked(Job):
    """Tell the consumer its partition was taken away."""

    __slots__ = ()
    kind = "revoked"

    def run(self) -> None:
        """Run the ``revoked`` hook."""
        self.executor.revoked()

    async def run_async(self) -> None:
        """Await the ``revoked`` hook on the loop."""
        await as_async(self.executor).hook_async("revoked")


class Shutdown(Job):
    """Give the consumer its last chance to flush before a stop or quiet."""

    __slots__ = ()
    kind = "shutdown"

    def run(self) -> None:
        """Run the ``shutdown`` hook."""
        self.executor.shutdown()

    async def run_async(self) -> None:
        """Await the ``shutdown`` hook on the loop."""
        await as_async(self.executor).hook_async("shutdown")


class Eofed(Job):
    """Tell the consumer the end of its partition was reached."""

    __slots__ = ()
    kind = "eofed"

    def run(self) -> None:
        """Run the ``eofed`` hook."""
        self.executor.eofed()

    async def run_async(self) -> None:
        """Await the ``eofed`` hook on the loop."""
        await as_async(self.executor).hook_async("eofed")


def as_async(executor: Executor) -> AsyncExecutor:
    """The executor of a job that runs on the loop (only an async consumer's does)."""
    if not executor.on_loop:
        raise TypeError(f"{executor.topic}/{executor.partition} is not an async consumer's")
    return executor  # type: ignore[return-value]
