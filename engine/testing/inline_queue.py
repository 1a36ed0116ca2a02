"""The jobs queue of the harness: each job runs on the calling thread, as a worker runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.processing.job_invoker import JobInvoker
from engine.processing.jobs import Consume
from engine.processing.virtual_jobs import VirtualConsume
from engine.testing.harness_loop import HarnessLoop
from engine.testing.interleave import Interleaving

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.processing.jobs import Job
    from engine.processing.jobs_queue import Queueable


class InlineQueue:
    """A ``ListenerQueue`` that runs each job at once, the way a worker runs it.

    One job at a time, in the order the listener schedules them; except that virtual
    partitions' jobs pushed one after the other (a batch's, which workers run side by side)
    wait for the group's ``wait`` or the next other job, then run in the order
    ``interleaving`` chooses. The batches of consume jobs (on a topic with virtual partitions,
    each virtual partition's share) are kept for ``Harness.poll``. An async consumer's job
    runs to its end on ``loop`` (the harness's).
    """

    def __init__(self, monitor: Monitor, interleaving: Interleaving | None = None,
                 loop: HarnessLoop | None = None) -> None:
        self._invoker = JobInvoker(monitor, self)
        self._loop = loop or HarnessLoop()
        self._interleaving = interleaving or Interleaving()
        self._side_by_side: list[Job] = []
        self.batches: list[Messages] = []

    def register(self, group_id: str) -> None:
        """Nothing to prepare."""

    def push(self, job: Queueable) -> None:
        """Run the job now, or hold a virtual partition's (a ``ProcessDeath`` goes through)."""
        if isinstance(job, VirtualConsume) and self._interleaving.active:
            self._side_by_side.append(job)
            return
        self._run_side_by_side()
        self._run(job)

    def wait(self, group_id: str, tick: float = 0.2) -> None:
        """Run the held jobs, in the chosen order; then every job ran."""
        self._run_side_by_side()

    def clear(self, group_id: str) -> None:
        """Nothing waits once ``wait`` returned (held jobs run at the next push or wait)."""

    def cancel(self, group_id: str, which: Callable[[Any], bool]) -> None:
        """Nothing to cancel: every job ran to its end when it was pushed."""

    def take_batches(self) -> list[Messages]:
        """The batches run since the last call."""
        batches, self.batches = self.batches, []
        return batches

    def _run_side_by_side(self) -> None:
        """Run the held jobs; a process death drops the rest, as it would the workers'."""
        held, self._side_by_side = self._side_by_side, []
        for job in self._interleaving.order(held):
            self._run(job)

    def _run(self, job: Queueable) -> None:
        """Run one job; a batch's (or a virtual partition's share of one) is kept first."""
        if isinstance(job, (Consume, VirtualConsume)):
            self.batches.append(job.messages)
        if job.on_loop:  # an async consumer's: on the harness's loop, to its end
            self._loop.run(self._invoker.run_async(job))
        else:
            self._invoker.run(job)

    def __repr__(self) -> str:
        """The queue's kind."""
        return "<InlineQueue>"
