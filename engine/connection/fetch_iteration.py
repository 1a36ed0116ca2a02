"""One fetch-loop iteration of a listener: resume, poll, rebalance, run the batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException

from engine.connection.assignment_watch import AssignmentWatch, GroupHolding
from engine.connection.partition_effects import apply_effects
from engine.connection.poll_split import PollSplitter
from engine.processing.jobs import Consume, Eofed, Job, Revoked

if TYPE_CHECKING:
    from engine.connection.group_jobs import GroupJobs
    from engine.connection.listener_client import ListenerClient
    from engine.connection.long_jobs import LongJobs
    from engine.connection.revocations import Revocations
    from engine.instrumentation.monitor import Monitor
    from engine.processing.partitions import PartitionKey, Partitions, Served
    from engine.routing.subscription_group import SubscriptionGroup


class FetchIteration:
    """The body of a listener's fetch loop, run once per ``run`` on the listener's thread.

    ``client`` reads the listener's current client (a reset replaces it); ``sender`` is
    what the events name (the listener).
    """

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor, sender: object,
                 *, partitions: Partitions, long_jobs: LongJobs, jobs: GroupJobs,
                 revocations: Revocations, client: Callable[[], ListenerClient],
                 assignment_timeout: float, clock: Callable[[], float],
                 holding: tuple[GroupHolding, int] | None = None) -> None:
        self._group = subscription_group
        self._id = subscription_group.id
        self._monitor = monitor
        self._sender = sender
        self._partitions = partitions
        self._long = long_jobs
        self._jobs = jobs
        self._revocations = revocations
        self._client = client
        self._clock = clock
        self._splitter = PollSplitter(subscription_group, monitor, sender)
        self._assignment = AssignmentWatch(subscription_group, monitor, sender,
                                           assignment_timeout, holding)
        self._received = monitor.signal("connection.listener.fetch_loop.received")

    def run(self, stopping: Callable[[], bool]) -> None:
        """Resume what is due, poll, handle a rebalance, run the batches, then the eofed hooks.

        A group long without partitions is noticed here too (``assignment_timeout``). The
        poll ends early once ``stopping()`` says so.
        """
        self._long.calls.run_pending()
        self._revocations.cancel_overdue()
        budget = self._resume_due(self._group.max_wait_time)
        raws = self.poll(self._group.max_messages, budget, stopping)
        polled_at = self._clock()
        raws = self._revocations.after_rebalance(raws)
        self._assignment.polled(bool(self._client().rebalance.assignment), polled_at)
        if not raws:
            return
        batches, ended = self._splitter.split(raws)
        jobs: list[Job] = []
        virtual: list[Served] = []
        for key, batch in batches.items():
            served = self._partitions.get(key)
            messages = served.executor.batch(batch, polled_at)
            # a paused partition refuses what was fetched before its pause (sought again)
            meta = messages.metadata
            if served.state.start(meta.first_offset, meta.last_offset):
                if served.virtual is None:
                    jobs.append(self._consume_job(key, served, messages))
                elif self._long.owns(key[0]):
                    jobs += self._long_virtual_jobs(served, messages)
                else:
                    jobs += served.virtual.jobs(messages, self._id, served.strategy)
                    virtual.append(served)
        self._jobs.run(jobs)
        for served in virtual:  # every sub-batch is done: the batch succeeded, or failed whole
            self._settle(served)
        if ended:  # after the batches: eofed never runs before, or beside, its consume
            self._jobs.run(Eofed(self._partitions.get(key).executor, self._id) for key in ended)

    def _consume_job(self, key: PartitionKey, served: Served, messages: Any) -> Job:
        """The job of one batch; a long-running topic's holds its partition while it runs."""
        if self._long.owns(key[0]):
            apply_effects(self._client(), served.state, served.state.hold())
            return self._long.job(self._id, served, messages, self._long_job_ended)
        return Consume(served.executor, self._id, served.strategy, messages)

    def _long_virtual_jobs(self, served: Served, messages: Any) -> list[Job]:
        """A long-running topic's virtual partitions: held until the batch's last job ends."""
        assert served.virtual is not None
        apply_effects(self._client(), served.state, served.state.hold())
        jobs = served.virtual.jobs(messages, self._id, served.strategy,
                                   self._long.ending(self._long_virtual_ended, served))
        if not jobs:  # nothing to run (a partitioner failed, or all was done): settle now
            self._long_virtual_ended(served)
        return jobs

    def _settle(self, served: Served) -> None:
        """Settle a batch of virtual partitions; apply what its failure asks of the client."""
        assert served.virtual is not None
        served.virtual.settle(served.strategy)
        effects = served.context.take_effects()
        if effects:
            apply_effects(self._client(), served.state, effects)

    def _long_job_ended(self, served: Served) -> None:
        """(Listener thread) a long job ended: apply what it asked, release its partition."""
        apply_effects(self._client(), served.state, served.context.take_effects())
        self._release(served)

    def _long_virtual_ended(self, served: Served) -> None:
        """(Listener thread) a long batch's virtual partitions all ended: settle, release.

        What each virtual partition asked (a pause, a seek) is applied first, then what the
        settling asks, as for a batch the listener waited for.
        """
        assert served.virtual is not None
        client = self._client()
        for executor in served.executors():
            apply_effects(client, served.state, executor.context.take_effects())
        self._settle(served)
        self._release(served)

    def _release(self, served: Served) -> None:
        """Fetch a held partition again; one revoked meanwhile hears it now (every instance)."""
        apply_effects(self._client(), served.state, served.state.release())
        if self._long.ended(served):
            self._jobs.run(Revoked(executor, self._id) for executor in served.executors()
                           if executor.consumer)

    def _resume_due(self, budget: float) -> float:
        """Resume every partition whose pause is over; ``budget`` cut to the next resume."""
        now = self._clock()
        for served in self._partitions.served():
            state = served.state
            if state.is_held:
                continue  # a long job runs: its pause ends after its release, never during it
            until = state.paused_until
            if until is not None and until <= now:
                apply_effects(self._client(), state, state.end_pause())
                until = state.paused_until  # a refused seek pauses it again
            if until is not None:
                budget = min(budget, max(0.01, until - now))
        return budget

    def poll(self, max_messages: int, budget: float, stopping: Callable[[], bool]
             ) -> list[Any]:
        """Poll up to ``max_messages`` for up to ``budget`` seconds (announced, fatal raised).

        Between two poll slices the calls long-running jobs queued are made.
        """
        started = time.perf_counter()
        client = self._client()
        raws = client.poll_batch(max_messages, budget, stopping,
                                 between_slices=self._long.calls.run_pending)
        if client.fatal_error is not None:
            raise KafkaException(client.fatal_error)
        if self._received.receivers:
            self._monitor.instrument(
                "connection.listener.fetch_loop.received", self._sender,
                subscription_group=self._id, messages_count=len(raws),
                time=time.perf_counter() - started,
            )
        return raws
