"""A listener: one thread, one Kafka client, the fetch loop of one subscription group."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException

from engine.connection.assignment_watch import AssignmentWatch
from engine.connection.client import Client
from engine.connection.listener_client import ListenerClient
from engine.connection.long_jobs import LongJobs
from engine.connection.partition_effects import apply_effects
from engine.connection.poll_split import PollSplitter
from engine.lifecycle.listener_state import ListenerState
from engine.lifecycle.listener_status import ListenerStatus
from engine.processing.executor import Executor
from engine.processing.jobs import Consume, Eofed, Job, Revoked, Shutdown
from engine.processing.partition_builder import ExecutorFactory, PartitionBuilder
from engine.processing.partitions import PartitionKey, Partitions, Served

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.effects import Effect
    from engine.processing.jobs_queue import ListenerQueue
    from engine.processing.partition_state import PartitionState
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup

RESET_BACKOFF = 1.0  # seconds between a failed fetch loop iteration and the rebuilt client

ListenerClientFactory = Callable[["SubscriptionGroup", "Monitor", object], ListenerClient]
"""Builds a listener's client: ``(subscription_group, monitor, listener)``."""


class Listener:
    """Polls one subscription group, schedules a job per partition batch and waits for them."""

    def __init__(self, subscription_group: SubscriptionGroup, jobs_queue: ListenerQueue,
                 monitor: Monitor, settings: Settings, producer: Producer, *,
                 client_factory: ListenerClientFactory = Client,
                 executor_factory: ExecutorFactory = Executor,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.subscription_group = subscription_group
        self.id = subscription_group.id
        self.status = ListenerStatus(monitor, self, subscription_group.id)
        self.monitor = monitor
        self.settings = settings
        self.producer = producer
        self._client_factory = client_factory
        self._clock = clock
        self.client = client_factory(subscription_group, monitor, self)
        self.client.check_config()
        self._long = LongJobs(subscription_group)
        self.partitions = Partitions(self._serve)
        self._builder = PartitionBuilder(subscription_group, monitor, settings, producer,
                                         executor_factory=executor_factory, clock=clock)
        self._splitter = PollSplitter(subscription_group, monitor, self)
        self._assignment = AssignmentWatch(
            subscription_group, monitor, self, settings.assignment_timeout
        )
        self._queue = jobs_queue
        self._thread: threading.Thread | None = None
        self._changed = threading.Event()
        self._received = monitor.signal("connection.listener.fetch_loop.received")
        self._looped = monitor.signal("connection.listener.fetch_loop")
        self.status.watch(self._changed.set)
        jobs_queue.register(subscription_group.id)

    def start(self) -> None:
        """Start the listener thread."""
        self._thread = threading.Thread(
            target=self._main, name=f"engine.listener#{self.id}", daemon=True
        )
        self._thread.start()

    def quiet(self) -> None:
        """Finish in-flight work, run shutdown jobs, keep the partitions."""
        self.status.request(ListenerState.QUIETING)

    def stop(self) -> None:
        """Leave the group and close (after quiet)."""
        self.status.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; False on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _main(self) -> None:
        try:
            self.connect()
            self._fetch_loop()
            self.quiet_down()
            self.serve_while_quiet()
        except Exception as error:  # noqa: BLE001 - the thread reports and ends stopped
            self._report(error)
        finally:
            self.shut_down()

    def _fetch_loop(self) -> None:
        self.enter_fetch_loop()
        while self.status.is_running:
            try:
                self.iterate()
            except Exception as error:  # noqa: BLE001 - one top-level except per loop
                self._report(error)
                self.reset_client()
        self.leave_fetch_loop()

    # The steps below run on the listener's thread, and each can be called without it: the
    # testing kit drives them on the calling thread against an in-memory client.

    def connect(self) -> None:
        """Starting: connect the client and subscribe; running once it is."""
        self.status.request(ListenerState.STARTING)
        self._long.calls.bind()  # this thread alone polls the handle; long jobs queue calls
        self.client.connect()
        self.status.request(ListenerState.RUNNING)

    def enter_fetch_loop(self) -> None:
        """Announce the fetch loop's start."""
        self.monitor.instrument("connection.listener.before_fetch_loop", self,
                                subscription_group=self.id)

    def iterate(self) -> None:
        """One turn of the fetch loop, announced."""
        if self._looped.receivers:
            self.monitor.instrument("connection.listener.fetch_loop", self,
                                    subscription_group=self.id)
        self.fetch_once()

    def leave_fetch_loop(self) -> None:
        """Announce the fetch loop's end."""
        self.monitor.instrument("connection.listener.after_fetch_loop", self,
                                subscription_group=self.id)

    def fetch_once(self) -> None:
        """One fetch-loop iteration: resume, poll, handle a rebalance, run the batches.

        A group long without partitions is noticed here too (``assignment_timeout``).
        """
        self._long.calls.run_pending()
        budget = self._resume_due(self.subscription_group.max_wait_time)
        raws = self._poll(self.subscription_group.max_messages, budget)
        polled_at = self._clock()
        raws = self.after_rebalance(raws)
        self._assignment.polled(bool(self.client.rebalance.assignment), polled_at)
        if not raws:
            return
        batches, ended = self._splitter.split(raws)
        jobs: list[Job] = []
        for key, batch in batches.items():
            served = self.partitions.get(key)
            messages = served.executor.batch(batch, polled_at)
            # a paused partition refuses what was fetched before its pause (sought again)
            meta = messages.metadata
            if served.state.start(meta.first_offset, meta.last_offset):
                jobs.append(self._consume_job(key, served, messages))
        self._run_jobs(jobs)
        # after the batches: eofed never runs before, or beside, its partition's consume
        self._run_jobs(Eofed(self.partitions.get(key).executor, self.id) for key in ended)

    def _consume_job(self, key: PartitionKey, served: Served, messages: Any) -> Job:
        """The job of one batch; a long-running topic's holds its partition while it runs."""
        if self._long.owns(key[0]):
            self._apply(served.state, served.state.hold())
            return self._long.job(self.id, served, messages, self._long_job_ended)
        return Consume(served.executor, self.id, served.strategy, messages)

    def _long_job_ended(self, served: Served) -> None:
        """(Listener thread) a long job ended: apply what it asked, release its partition.

        A partition revoked meanwhile hears it now.
        """
        state = served.state
        self._apply(state, served.context.take_effects())
        self._apply(state, state.release())
        if self._long.ended(served) and served.executor.consumer:
            self._run_jobs([Revoked(served.executor, self.id)])

    def _resume_due(self, budget: float) -> float:
        """Resume every partition whose pause is over; ``budget`` cut to the next resume."""
        now = self._clock()
        for served in self.partitions.served():
            state = served.state
            until = state.paused_until
            if until is not None and until <= now:
                self._apply(state, state.end_pause())
                until = state.paused_until  # a refused seek pauses it again
            if until is not None:
                budget = min(budget, max(0.01, until - now))
        return budget

    def _apply(self, state: PartitionState, effects: Iterable[Effect]) -> None:
        """Make the client calls a partition's state asks for (none once it is gone)."""
        if not state.is_revoked:
            apply_effects(self.client, state, effects)

    def _wait_for_long_jobs(self, timeout: float) -> None:
        self._long.wait(lambda: self.partitions, timeout)

    def _run_jobs(self, jobs: Iterable[Job]) -> None:
        """Schedule jobs, wait until every job of this group is done, apply their effects.

        A long-running job's effects wait for its end (``_long_job_ended``): it still runs.
        """
        push = self._queue.push
        waited = []
        for job in jobs:
            push(job)
            if not job.non_blocking:
                waited.append(job)
        self._queue.wait(self.id)
        for job in waited:
            context = job.context
            effects = context.take_effects()
            if effects:
                self._apply(context.state, effects)

    def _poll(self, max_messages: int, budget: float) -> list[Any]:
        started = time.perf_counter()
        raws = self.client.poll_batch(max_messages, budget, self._interrupted)
        if self.client.fatal_error is not None:
            raise KafkaException(self.client.fatal_error)
        if self._received.receivers:
            self.monitor.instrument(
                "connection.listener.fetch_loop.received", self, subscription_group=self.id,
                messages_count=len(raws), time=time.perf_counter() - started,
            )
        return raws

    def _interrupted(self) -> bool:
        """Between two poll slices: make the calls long jobs queued; True to end the poll."""
        self._long.calls.run_pending()
        return not self.status.is_running

    def after_rebalance(self, raws: list[Any]) -> list[Any]:
        """Drop what revoked partitions delivered; run their Revoked jobs; keep the rest.

        One poll can revoke a partition and assign it back: what it delivered is dropped, so
        the partition is sought back to the smallest offset dropped (error events carry no
        offset of a message and are never taken for one).
        """
        if not self.client.rebalance.changed:
            return raws
        _, revoked, lost = self.client.rebalance.take()
        gone = revoked | lost
        if not gone:
            return raws
        kept: list[Any] = []
        first_dropped: dict[PartitionKey, int] = {}
        for raw in raws:
            key = (raw.topic(), raw.partition())
            if key not in gone:
                kept.append(raw)
            elif raw.error() is None:
                offset = raw.offset()
                first_dropped[key] = min(offset, first_dropped.get(key, offset))
        owned = self.client.rebalance.assignment
        for key, offset in first_dropped.items():
            if key in owned:
                self.client.seek(key[0], key[1], offset)
        self._revoke(revoked - lost, lost=False)
        self._revoke(lost, lost=True)
        return kept

    def _revoke(self, keys: set[PartitionKey], lost: bool) -> None:
        """Stop serving partitions that are gone; their consumers hear ``revoked``."""
        self._let_go(self.partitions.remove(keys), lost)

    def _let_go(self, gone: list[Served], lost: bool) -> None:
        """Mark partitions revoked (or lost) and run their consumers' ``revoked`` hooks."""
        for served in gone:
            served.state.revoke()
        held = self._long.let_go(gone)  # their revoked hook runs once their job ended
        self._run_jobs(Revoked(served.executor, self.id) for served in gone
                       if served.executor.consumer and served not in held)

    def quiet_down(self) -> None:
        """Finish (long jobs too), run every shutdown hook once, then pause everything."""
        self._queue.wait(self.id)
        self._wait_for_long_jobs(self.settings.shutdown_timeout / 2)
        self._run_jobs(Shutdown(served.executor, self.id) for served in self.partitions
                       if served.executor.consumer)
        self.client.pause_all()
        self.status.request(ListenerState.QUIET)

    def serve_while_quiet(self) -> None:
        """Quiet: stay in the group, paused; serve rebalances until asked to stop."""
        while not self.status.reached(ListenerState.STOPPING):
            if not self.client.connected:  # a reset was cut short by the stop: nothing to serve
                self._changed.clear()
                self._changed.wait(0.2)
                continue
            raws = self.after_rebalance(self._poll(100, 0.2))
            first: dict[PartitionKey, int] = {}
            for raw in raws:
                if raw.error() is None:
                    first.setdefault((raw.topic(), raw.partition()), raw.offset())
            for (topic, partition), offset in first.items():
                self.client.seek(topic, partition, offset)
                self.client.pause(topic, partition)

    def shut_down(self) -> None:
        """Finish, flush what consumers produced, then commit, leave the group and close.

        The flush comes first: a source offset is never committed before what its batch
        produced was handed to the broker (what could not be is reported, not dropped).
        """
        try:
            self.status.stop()
            self._queue.wait(self.id)
            self._wait_for_long_jobs(self.settings.shutdown_timeout / 4)
            self.producer.flush(self.settings.shutdown_timeout / 4, report=False)  # close reports
            self.client.close(timeout=self.settings.shutdown_timeout / 4)
        except Exception as error:  # noqa: BLE001 - closing must not raise out of the thread
            self._report(error)
        finally:
            self.partitions.clear()
            self.status.request(ListenerState.STOPPED)

    def reset_client(self) -> None:
        """Drain this group's jobs, rebuild the client, back off.

        The old client's partitions are gone: their consumers hear ``revoked`` (as lost)
        before the new client gets its assignment.
        """
        self._queue.wait(self.id)
        self._wait_for_long_jobs(self.settings.shutdown_timeout / 4)
        self._queue.clear(self.id)
        try:
            self.client.close(timeout=1.0)
        except Exception as error:  # noqa: BLE001 - a broken client may fail to close
            self._report(error)
        self._let_go(self.partitions.clear(), lost=True)
        self.monitor.instrument("client.reset", self.client, subscription_group=self.id)
        while self.status.is_running:
            self._changed.clear()
            self._changed.wait(RESET_BACKOFF)
            self.client = self._client_factory(self.subscription_group, self.monitor, self)
            try:
                self.client.connect()
                return
            except Exception as error:  # noqa: BLE001 - keep trying until asked to stop
                self._report(error)

    def _serve(self, key: PartitionKey) -> Served:
        """Everything one newly served partition needs, bound to the current client."""
        return self._builder.build(key, self._long.port_for(key[0], self.client))

    def _report(self, error: Exception) -> None:
        self.monitor.instrument("error.occurred", self, type="connection.listener.fetch_loop.error",
                                error=error, subscription_group=self.id)
