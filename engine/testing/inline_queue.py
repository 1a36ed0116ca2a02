"""The jobs queue of the harness: each job runs when it is pushed, on the calling thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.processing.job_invoker import JobInvoker
from engine.processing.jobs import Consume

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.processing.jobs_queue import Queueable


class InlineQueue:
    """A ``ListenerQueue`` that runs each job at once, the way a worker runs it.

    One job at a time, in the order the listener schedules them; so ``wait`` has nothing
    to wait for. The batches of consume jobs are kept for ``Harness.poll`` to return.
    """

    def __init__(self, monitor: Monitor) -> None:
        self._invoker = JobInvoker(monitor, self)
        self.batches: list[Messages] = []

    def register(self, group_id: str) -> None:
        """Nothing to prepare."""

    def push(self, job: Queueable) -> None:
        """Run the job now (a ``ProcessDeath`` goes through to the harness)."""
        if isinstance(job, Consume):
            self.batches.append(job.messages)
        self._invoker.run(job)

    def wait(self, group_id: str, tick: float = 0.2) -> None:
        """Every job already ran."""

    def clear(self, group_id: str) -> None:
        """Nothing is ever queued."""

    def take_batches(self) -> list[Messages]:
        """The batches run since the last call."""
        batches, self.batches = self.batches, []
        return batches

    def __repr__(self) -> str:
        """The queue's kind."""
        return "<InlineQueue>"
