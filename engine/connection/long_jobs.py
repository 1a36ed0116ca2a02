"""A listener's long-running jobs: their partitions held, their handle calls, their ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from engine.connection.handle_calls import HandleCalls, RoutedOffsets
from engine.processing.jobs import LongConsume

if TYPE_CHECKING:
    from engine.processing.offsets_port import OffsetsPort
    from engine.processing.partitions import Served
    from engine.routing.subscription_group import SubscriptionGroup


class LongJobs:
    """Owns what long-running jobs need beside the listener's loop (one per listener).

    ``calls`` is the queue of handle calls the listener makes for them. A partition revoked
    while its job runs waits here until the job ends: only then may its hook run. Its async
    job is given a deadline (``grant``), past which the listener cancels it (``overdue``).
    """

    def __init__(self, subscription_group: SubscriptionGroup) -> None:
        self.calls = HandleCalls()
        self._topics = {topic.name for topic in subscription_group.topics if topic.long_running_job}
        self._revoked: list[Served] = []
        self._deadlines: list[tuple[Served, float]] = []  # revoked, still running, until when

    def owns(self, topic: str) -> bool:
        """Whether the topic's batches run as long jobs."""
        return topic in self._topics

    def port_for(self, topic: str, client: Any) -> OffsetsPort:
        """The offsets port of a partition of ``topic``: through the listener for long jobs."""
        return RoutedOffsets(client, self.calls) if topic in self._topics else client

    def job(self, group_id: str, served: Served, messages: Any,
            ended: Callable[[Served], None]) -> LongConsume:
        """The job of a held partition; ``ended(served)`` runs on the listener after it."""
        return LongConsume(served.executor, group_id, served.strategy, messages,
                           self.ending(ended, served))

    def ending(self, ended: Callable[[Served], None], served: Served) -> Callable[[], None]:
        """What a job (any thread) calls at its end: ``ended(served)`` runs on the listener."""
        return lambda: self.calls.submit(ended, served)

    def let_go(self, gone: Iterable[Served]) -> list[Served]:
        """Of partitions taken away, those whose job still runs (their hook must wait)."""
        held = [served for served in gone if served.state.is_held]
        self._revoked += held
        return held

    def grant(self, held: Iterable[Served], deadline: float) -> None:
        """Let the jobs of revoked partitions ``held`` run until ``deadline`` (clock time)."""
        self._deadlines += [(served, deadline) for served in held]

    def overdue(self, now: float) -> list[Served]:
        """The revoked partitions whose job still runs past its deadline (each told once)."""
        if not self._deadlines:
            return []
        due = [served for served, deadline in self._deadlines if now >= deadline]
        self._deadlines = [(served, deadline) for served, deadline in self._deadlines
                           if now < deadline]
        return due

    def ended(self, served: Served) -> bool:
        """A job ended (its partition released); True when its revoked hook is due now."""
        self._deadlines = [pair for pair in self._deadlines if pair[0] is not served]
        if served in self._revoked:
            self._revoked.remove(served)
            return True
        return False

    def running(self, served: Iterable[Served]) -> bool:
        """Whether a long job still runs (of the partitions served, or of those let go)."""
        return bool(self._revoked) or any(each.state.is_held for each in served)

    def wait(self, served: Callable[[], Iterable[Served]], timeout: float) -> None:
        """Make the running jobs' calls until they all ended (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.running(served()) and time.monotonic() < deadline:
            self.calls.run_pending()
            self.calls.wait_for_calls(min(0.1, max(0.0, deadline - time.monotonic())))
        self.calls.run_pending()
