"""``VirtualBatch``: one real partition of a topic with virtual partitions, its batches and marks.

Built by ``PartitionBuilder`` for such topics only (``Served.virtual``); other topics never
reach this module. The listener thread calls ``jobs`` (split a started batch, put its offsets in
flight on the ``Watermark``) and, once every job of its group is done, ``settle``; between the
two, the workers run one job per non-empty virtual partition at the same time
(``engine.processing.virtual_jobs``), each with its ``VirtualContext``
(``engine.processing.virtual_context``). Their marks go through ``mark``, under the partition's
lock: the stored offset is the watermark, never past an unprocessed message, with the offsets
processed above it in the commit's metadata.

A batch the state calls a retry (attempt > 1) runs *collapsed*: one ordinary ``Consume`` job on
virtual partition 0's instance, in offset order, with the topic's strategy (retries, DLQ).

On a ``long_running_job`` topic the listener does not wait for the jobs: they are non-blocking
(``LongVirtualConsume``, or a collapsed ``LongConsume``) and the last of a batch to end calls
the listener's ``finished``, which settles the batch and releases the partition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from engine.messages import Message, Messages
from engine.processing.jobs import Consume, Job, LongConsume
from engine.processing.outcome import Outcome
from engine.processing.partition_context import PartitionContext
from engine.processing.virtual_context import VirtualContext
from engine.processing.virtual_jobs import Ends, LongVirtualConsume, VirtualConsume
from engine.virtual.distributions import split
from engine.virtual.errors import SplitError
from engine.virtual.metadata import decode, encode
from engine.virtual.shared_lock import SharedLock
from engine.virtual.watermark import Watermark

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.processing.executor import Executor
    from engine.processing.offsets_port import OffsetsPort
    from engine.processing.strategies import DefaultStrategy
    from engine.producer import Producer
    from engine.routing.topic import Topic
    from engine.virtual.settings import VirtualPartitions

BuildExecutor = Callable[[PartitionContext], "Executor"]
"""Builds the executor of one virtual partition around its context."""


class _Batch:
    """A batch between ``jobs`` and ``settle``: its jobs, or the split's failure."""

    __slots__ = ("collapsed", "error", "jobs", "messages")

    def __init__(self, messages: Messages, jobs: list[VirtualConsume], *,
                 collapsed: bool = False, error: Outcome | None = None) -> None:
        self.messages, self.jobs, self.error = messages, jobs, error
        self.collapsed = collapsed  # one Consume job ran it, with the strategy


class VirtualBatch:
    """One real partition's virtual partitions: their executors, watermark and locks.

    ``lock`` orders the marks of the workers (taken per mark, on such topics only), and with
    them every write a worker makes to the partition's state (``marked``, a pause, a seek):
    several jobs of one partition run at once here, where elsewhere one job owns the state.
    ``shared_lock`` is the users' (``Consumer.synchronize``), apart so that a mark inside it
    never deadlocks. Executors are built on first use and kept across batches.
    """

    def __init__(self, route: Topic, settings: VirtualPartitions, count: int,
                 context: PartitionContext, port: OffsetsPort, producer: Producer,
                 monitor: Monitor, build_executor: BuildExecutor) -> None:
        self._settings = settings
        self._count = count
        self._auto_mark = not route.manual_offset_management
        self._context = context
        self._state = context.state
        self._port = port
        self._producer = producer
        self._monitor = monitor
        self._build_executor = build_executor
        self._executors: list[Executor | None] = [None] * count
        self.lock = threading.Lock()
        self.shared_lock = SharedLock()
        self.watermark: Watermark | None = None
        self._stored: tuple[int, tuple[int, ...]] | None = None
        self._batch: _Batch | None = None
        self.sought = False  # a consumer moved the fetch position during the last batch
        self.paused = False  # a consumer paused the partition at an offset during it

    def executor(self, index: int) -> Executor:
        """Virtual partition ``index``'s executor, built on first use."""
        executor = self._executors[index]
        if executor is None:
            context = VirtualContext(self, index, self._state, self._port, self._producer,
                                     self._monitor)
            executor = self._executors[index] = self._build_executor(context)
        return executor

    def executors(self) -> Iterator[Executor]:
        """Every executor built so far, in virtual partition order."""
        return (executor for executor in self._executors if executor is not None)

    # -- the listener thread -------------------------------------------------------------------

    def jobs(self, messages: Messages, group_id: str, strategy: DefaultStrategy,
             finished: Callable[[], None] | None = None) -> list[Job]:
        """The jobs of a started batch: one per non-empty virtual partition, or one collapsed.

        Offsets the watermark knows are processed are left out. A partitioner that raises
        fails the batch (reported; ``settle`` retries it). With ``finished`` (a long-running
        topic) the jobs are non-blocking and the last to end calls it; with no job to run,
        it is never called (the caller settles at once).
        """
        meta = messages.metadata
        kept = self._begin(meta.first_offset, messages)
        collapsed = self._state.attempt > 1
        try:
            parts = [kept] if collapsed else split(kept, self._settings, self._count)
        except SplitError as error:
            self._batch = _Batch(messages, [], error=self._split_failed(error))
            return []
        with self.lock:
            assert self.watermark is not None
            self.watermark.deliver([[m.offset for m in part] for part in parts],
                                   last=meta.last_offset)
            self._store()
        raws = dict(zip((m.offset for m in messages), messages.raw, strict=True))
        ends = None if finished is None else Ends(finished)
        jobs: list[Job] = []
        virtual: list[VirtualConsume] = []
        for index, part in enumerate(parts):
            if not part:
                continue
            executor = self.executor(index)
            context = executor.context
            assert isinstance(context, VirtualContext)
            context.collapsed, context.manual = collapsed, False
            sub = executor.batch([raws[m.offset] for m in part], meta.polled_at)
            job = self._job(executor, group_id, strategy, sub, collapsed, ends)
            if isinstance(job, VirtualConsume):
                virtual.append(job)
            jobs.append(job)
        if ends is not None:
            ends.remaining = len(jobs)
        self._batch = _Batch(messages, virtual, collapsed=collapsed and bool(jobs))
        return jobs

    def settle(self, strategy: DefaultStrategy) -> None:
        """After the batch's jobs: succeed, or fail it as a whole (retried collapsed).

        A failure releases the unprocessed offsets and retries from the watermark, never to
        the dead-letter queue: which message failed is known once the retry runs in offset
        order. A collapsed batch's ``Consume`` settled itself through the strategy.
        """
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if batch.collapsed:
            # its Consume settled it through the strategy (attempt 0: it passed), up to its
            # last message; the batch's tail may have been done already: passed too
            if not self._context.is_revoked:
                self.checkpoint()
                if self._state.attempt == 0:
                    self._state.succeed(batch.messages.metadata.last_offset)
            return
        failed = batch.error or next(
            (job.outcome or Outcome(None, RuntimeError(f"{job!r} did not run"))
             for job in batch.jobs if not job.succeeded), None)
        if failed is None:
            if not self._context.is_revoked:
                self._state.succeed(batch.messages.metadata.last_offset)
            return
        with self.lock:
            if self.watermark is not None:
                self.watermark.release()
        strategy.retry(self._context, failed, batch.messages)

    # -- the workers (any thread) --------------------------------------------------------------

    def mark(self, offset: int) -> bool:
        """Mark ``offset`` processed; store the watermark if it moved. False when refused.

        Without the metadata: encoding what is done above the watermark costs a pass over it,
        too much per message; ``checkpoint`` adds it once per sub-batch. A commit of the
        watermark alone replays more after a crash, never less.
        """
        with self.lock:
            watermark = self.watermark
            if watermark is None:
                raise ValueError(f"offset {offset} is not in flight (no batch yet)")
            watermark.mark(offset)
            position = watermark.watermark
            stored = self._stored
            if stored is not None and stored[0] == position:
                return True  # not moved: what is done above it waits for the checkpoint
            return self._store_at(position, (), None)

    def checkpoint(self) -> bool:
        """Store the watermark with what is done above it, if either changed since stored."""
        with self.lock:
            return self.watermark is None or self._store()

    # -- steps ---------------------------------------------------------------------------------

    def _job(self, executor: Executor, group_id: str, strategy: DefaultStrategy,
             sub: Messages, collapsed: bool, ends: Ends | None) -> Job:
        """One virtual partition's job: collapsed or not, long (counted down by ``ends``) or not."""
        if collapsed:
            if ends is None:
                return Consume(executor, group_id, strategy, sub)
            return LongConsume(executor, group_id, strategy, sub, ends.one_ended)
        if ends is None:
            return VirtualConsume(executor, group_id, sub, self._auto_mark)
        return LongVirtualConsume(executor, group_id, sub, self._auto_mark, ends.one_ended)

    def _begin(self, first: int, messages: Messages) -> list[Message]:
        """Set the watermark up for a batch from ``first``; its messages not processed yet."""
        watermark = self.watermark
        if watermark is None:
            watermark = self.watermark = self._fresh(first)
        elif self.sought:
            watermark = self._restart(first)
        elif first < watermark.delivered_end:  # fetched again: a retry, or after a pause
            with self.lock:
                watermark.release()
            if self.paused and first < watermark.watermark:  # the consumer's pause back
                watermark = self._restart(first)
        self.paused = False
        # below the watermark, all is done: only the engine fetches there unsought (a
        # dead-lettered message's next offset, under the marks the first attempt made)
        below = watermark.watermark
        done = set(watermark.completed_above())
        if first >= below and not done:
            return list(messages)
        return [message for message in messages
                if message.offset >= below and message.offset not in done]

    def _restart(self, first: int) -> Watermark:
        """A watermark at ``first``, forgetting what was in flight and done."""
        with self.lock:
            self.sought = False
            self.watermark = Watermark(first)
            self._stored = (first, ())
            return self.watermark

    def _fresh(self, first: int) -> Watermark:
        """The first batch's watermark: at the commit, skipping its metadata's offsets."""
        state = self._state
        found = self._port.committed(state.topic, state.partition)
        completed: set[int] = set()
        if found is not None and found[0] == first:
            completed = decode(found[1], first) or set()
        self._stored = (first, tuple(sorted(completed)))
        return Watermark(first, completed)

    def _store(self) -> bool:
        """Store the watermark (and what is done above it) if either changed (lock held)."""
        assert self.watermark is not None
        position = self.watermark.watermark
        completed = tuple(self.watermark.completed_above())
        if (position, completed) == self._stored:
            return True
        return self._store_at(position, completed,
                              encode(position, completed) if completed else None)

    def _store_at(self, position: int, completed: tuple[int, ...], metadata: str | None
                  ) -> bool:
        """Store ``position`` with ``metadata`` (which holds ``completed``; lock held)."""
        state = self._state
        if state.is_revoked:
            return False
        if not self._port.store_offset(state.topic, state.partition, position, metadata):
            state.store_refused()
            return False
        self._stored = (position, completed)
        state.marked(position - 1)
        return True

    def _split_failed(self, error: SplitError) -> Outcome:
        """Report a partitioner's failure as a consume error at its offset."""
        executor = self._executors[0]
        consumer = executor.consumer if executor is not None else None
        state = self._state
        self._monitor.instrument("error.occurred", consumer, type="consumer.consume.error",
                                 error=error, topic=state.topic, partition=state.partition,
                                 offset=error.offset)
        return Outcome(consumer, error, state.attempt)
