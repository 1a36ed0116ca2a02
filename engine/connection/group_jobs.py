"""A listener's jobs: scheduled on the shared queue, waited for as a group, effects applied."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from engine.connection.partition_effects import apply_effects

if TYPE_CHECKING:
    from engine.connection.listener_client import ListenerClient
    from engine.processing.jobs import Job
    from engine.processing.jobs_queue import ListenerQueue


class GroupJobs:
    """Runs one subscription group's jobs and applies what they asked of the client after.

    ``client`` reads the listener's current client (a reset replaces it).
    """

    def __init__(self, queue: ListenerQueue, group_id: str,
                 client: Callable[[], ListenerClient]) -> None:
        self._queue = queue
        self._group_id = group_id
        self._client = client
        queue.register(group_id)

    def run(self, jobs: Iterable[Job]) -> None:
        """Schedule jobs, wait until every job of this group is done, apply their effects.

        A long-running job's effects wait for its end (the listener applies them then): it
        still runs, and so does a job of its partition that ran beside it (an eofed or a
        shutdown hook), whose effects wait with it.
        """
        push = self._queue.push
        waited = []
        for job in jobs:
            push(job)
            if not job.non_blocking:
                waited.append(job)
        self._queue.wait(self._group_id)
        for job in waited:
            context = job.context
            if context.state.is_held:
                continue
            effects = context.take_effects()
            if effects:
                apply_effects(self._client(), context.state, effects)

    def wait(self) -> None:
        """Block until no blocking job of this group is in flight."""
        self._queue.wait(self._group_id)

    def cancel(self, which: Callable[[Job], bool]) -> None:
        """Cancel this group's async jobs ``which`` picks (a lost partition's)."""
        self._queue.cancel(self._group_id, which)

    def clear(self) -> None:
        """Drop this group's queued jobs (a client reset)."""
        self._queue.clear(self._group_id)
