"""The jobs of a batch split over virtual partitions, run beside each other by the workers.

- ``VirtualConsume``: one virtual partition's share of a batch; it marks on success and leaves
  retries to ``VirtualBatch.settle``. An async consumer's runs as a task on the app's loop.
- ``LongVirtualConsume``: the same on a ``long_running_job`` topic, non-blocking; it counts its
  end down on an ``Ends``.
- ``Ends``: a long batch's jobs counted down; the last to end calls the listener's
  ``finished``, which settles the batch and releases the partition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.processing.jobs import Job, as_async
from engine.processing.outcome import Outcome
from engine.processing.virtual_context import VirtualContext

if TYPE_CHECKING:
    from engine.messages import Messages
    from engine.processing.executor import Executor


class VirtualConsume(Job):
    """One virtual partition's share of a batch, run beside the others.

    It decides nothing about retries: ``VirtualBatch.settle`` reads ``succeeded`` once every
    job of the batch is done. On success it marks its last message, unless the topic marks
    manually or the consumer paused or sought.
    """

    __slots__ = ("auto_mark", "messages", "outcome", "succeeded")
    kind = "consume"

    def __init__(self, executor: Executor, group_id: str, messages: Messages,
                 auto_mark: bool) -> None:
        super().__init__(executor, group_id)
        self.messages = messages
        self.auto_mark = auto_mark
        self.outcome: Outcome | None = None
        self.succeeded = False  # until it ran through: a job dropped unrun fails the batch

    def run(self) -> None:
        """Consume the sub-batch, mark it on success, report it."""
        self._settle(self.executor.consume(self.messages))

    async def run_async(self) -> None:
        """``run`` for an async consumer, on the loop (marks are quick: no settling here)."""
        self._settle(await as_async(self.executor).consume_async(self.messages))

    def _settle(self, outcome: Outcome) -> None:
        executor = self.executor
        context = executor.context
        assert isinstance(context, VirtualContext)
        self.outcome = outcome
        try:
            if outcome.error is None and self.auto_mark and not context.manual:
                context.mark(self.messages.metadata.last_offset)
            if not context.is_revoked:
                context.checkpoint()  # done above the watermark, even if it failed: skipped
            self.succeeded = outcome.error is None
        finally:
            executor.consumed(outcome, self.messages)

    def __repr__(self) -> str:
        """Kind, partition, virtual partition and offsets."""
        meta, context = self.messages.metadata, self.executor.context
        index = context.virtual_partition if isinstance(context, VirtualContext) else "?"
        return (f"VirtualConsume({self.executor.topic}/{self.executor.partition}#{index}"
                f" @{meta.first_offset}..{meta.last_offset})")


class LongVirtualConsume(VirtualConsume):
    """A virtual partition's share of a long-running topic's batch: the listener polls on.

    ``ended`` runs once the job is over, whatever happened in it.
    """

    __slots__ = ("ended",)
    non_blocking = True

    def __init__(self, executor: Executor, group_id: str, messages: Messages,
                 auto_mark: bool, ended: Callable[[], None]) -> None:
        super().__init__(executor, group_id, messages, auto_mark)
        self.ended = ended

    def run(self) -> None:
        """Run as ``VirtualConsume``; then count this job's end."""
        try:
            super().run()
        finally:
            self.ended()

    async def run_async(self) -> None:
        """Run as ``VirtualConsume`` on the loop; then count this job's end."""
        try:
            await super().run_async()
        finally:
            self.ended()

    def abandon(self) -> None:
        """Never ran (it fails the batch): its end is counted all the same."""
        self.ended()


class Ends:
    """A long batch's jobs counted down: the last one to end calls ``finished`` (once)."""

    __slots__ = ("_finished", "_lock", "remaining")

    def __init__(self, finished: Callable[[], None]) -> None:
        self._finished = finished
        self._lock = threading.Lock()
        self.remaining = 0  # set once every job is built, before any is pushed

    def one_ended(self) -> None:
        """A job ended (any worker)."""
        with self._lock:
            self.remaining -= 1
            last = self.remaining == 0
        if last:
            self._finished()
