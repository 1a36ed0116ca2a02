"""A listener: one thread, one Kafka client, the fetch loop of one subscription group.

Its thread runs three phases, and the testing kit runs the same three on its own thread:
``open`` (connect, announce the loop), ``iterate`` (one fetch-loop iteration, repeated while
running) and ``close`` (finish, shutdown hooks, quiet service, flush, commit, leave).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.connection.assignment_watch import GroupHolding
from engine.connection.client import Client
from engine.connection.fetch_iteration import FetchIteration
from engine.connection.group_jobs import GroupJobs
from engine.connection.listener_client import ListenerClient
from engine.connection.long_jobs import LongJobs
from engine.connection.partition_effects import apply_effects
from engine.connection.revocations import Revocations
from engine.lifecycle.listener_state import ListenerState
from engine.lifecycle.listener_status import ListenerStatus
from engine.processing.jobs import Shutdown
from engine.processing.partition_builder import ExecutorFactory, PartitionBuilder
from engine.processing.partitions import PartitionKey, Partitions, Served
from engine.producer import ProducerClientFactory, kafka_producer
from engine.transactions.producers import BuildLocks, WarmUp, in_background

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.jobs_queue import ListenerQueue
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup

RESET_BACKOFF = 1.0  # seconds between a failed fetch loop iteration and the rebuilt client
QUIET_POLL = 0.2  # seconds a quiet listener waits in one poll for a rebalance

ListenerClientFactory = Callable[["SubscriptionGroup", "Monitor", object], ListenerClient]
"""Builds a listener's client: ``(subscription_group, monitor, listener)``."""


class Listener:
    """Polls one subscription group, schedules a job per partition batch and waits for them."""

    def __init__(self, subscription_group: SubscriptionGroup, jobs_queue: ListenerQueue,
                 monitor: Monitor, settings: Settings, producer: Producer, *,
                 client_factory: ListenerClientFactory = Client,
                 executor_factory: ExecutorFactory | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 transactional_factory: ProducerClientFactory = kafka_producer,
                 transactional_warm_up: WarmUp = in_background,
                 holding: tuple[GroupHolding, int] | None = None,
                 build_locks: BuildLocks | None = None) -> None:
        """Build the listener (its thread starts with ``start``).

        ``transactional_factory`` builds the partitions' transactional producer clients;
        ``transactional_warm_up`` runs the builds of partitions just assigned; ``holding``
        is, for one of several connections of a subscription group, theirs and its index;
        ``build_locks`` orders the transactional producers' builds of the app's listeners.
        """
        self.subscription_group = subscription_group
        self.id = subscription_group.id
        self.status = ListenerStatus(monitor, self, subscription_group.id)
        self.monitor = monitor
        self.settings = settings
        self.producer = producer
        self._client_factory = client_factory
        self.client = client_factory(subscription_group, monitor, self)
        self.client.check_config()
        self._long = LongJobs(subscription_group)
        self.partitions = Partitions(self._serve)
        self._builder = PartitionBuilder(subscription_group, monitor, settings, producer,
                                         executor_factory=executor_factory, clock=clock,
                                         transactional_factory=transactional_factory,
                                         transactional_warm_up=transactional_warm_up,
                                         build_locks=build_locks)
        self._jobs = GroupJobs(jobs_queue, self.id, self._current_client)
        self._revocations = Revocations(self.id, self.partitions, self._long, self._jobs,
                                        self._current_client, prepare=self._builder.prepare,
                                        release=self._builder.release,
                                        grace=settings.shutdown_timeout, clock=clock)
        self._iteration = FetchIteration(
            subscription_group, monitor, self, partitions=self.partitions,
            long_jobs=self._long, jobs=self._jobs, revocations=self._revocations,
            client=self._current_client, assignment_timeout=settings.assignment_timeout,
            clock=clock, holding=holding,
        )
        self._thread: threading.Thread | None = None
        self._changed = threading.Event()
        self._looped = monitor.signal("connection.listener.fetch_loop")
        self.status.watch(self._changed.set)

    # -- the thread ------------------------------------------------------------------------------

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
            self.open()
            while self.status.is_running:
                try:
                    self.iterate()
                except Exception as error:  # noqa: BLE001 - one top-level except per loop
                    self._report(error)
                    self.reset_client()
            self.close(serve_quiet=True)
        except Exception as error:  # noqa: BLE001 - the thread reports and ends stopped
            self._report(error)
        finally:
            self.shut_down()

    # -- the phases (the thread's, and the testing kit's on its own thread) ----------------------

    def open(self) -> None:
        """Starting: connect the client and subscribe; running once it is; the loop begins."""
        self.status.request(ListenerState.STARTING)
        self._long.calls.bind()  # this thread alone polls the handle; long jobs queue calls
        self.client.connect()
        self.status.request(ListenerState.RUNNING)
        self.monitor.instrument("connection.listener.before_fetch_loop", self,
                                subscription_group=self.id)

    def iterate(self) -> None:
        """One fetch-loop iteration, announced (the poll ends early once not running)."""
        if self._looped.receivers:
            self.monitor.instrument("connection.listener.fetch_loop", self,
                                    subscription_group=self.id)
        self._iteration.run(self._not_running)

    def close(self, serve_quiet: bool) -> None:
        """The loop ended: finish, run the shutdown hooks, pause; then commit, leave, close.

        With ``serve_quiet`` the listener stays in the group while quiet, serving rebalances,
        until asked to stop (the thread); the testing kit stops at once.
        """
        self.monitor.instrument("connection.listener.after_fetch_loop", self,
                                subscription_group=self.id)
        self.quiet_down()
        if serve_quiet:
            self.serve_while_quiet()
        self.shut_down()

    # -- an operator's requests, from any thread -----------------------------------------------

    def pause_partition(self, topic: str, partition: int, timeout: float) -> None:
        """Pause fetching a partition this listener serves, for ``timeout`` seconds.

        Made on the listener's thread between two poll slices (after a batch that runs);
        a partition it does not own is left alone.
        """
        self._long.calls.submit(self._pause_partition, (topic, partition), timeout)

    def resume_partition(self, topic: str, partition: int) -> None:
        """End the pause of a partition this listener serves (a retry's back-off too)."""
        self._long.calls.submit(self._resume_partition, (topic, partition))

    def _pause_partition(self, key: PartitionKey, timeout: float) -> None:
        if key in self.partitions or key in self.client.rebalance.assignment:
            state = self.partitions.get(key).state
            apply_effects(self.client, state, state.pause_by_operator(timeout))

    def _resume_partition(self, key: PartitionKey) -> None:
        if key in self.partitions:
            self.partitions.get(key).state.resume()  # ended before the next poll

    # -- the steps of the phases -----------------------------------------------------------------

    def after_rebalance(self, raws: list[Any]) -> list[Any]:
        """Drop what revoked partitions delivered; their consumers hear ``revoked``."""
        return self._revocations.after_rebalance(raws)

    def quiet_down(self) -> None:
        """Finish (long jobs too), run every shutdown hook once, then pause everything."""
        self._jobs.wait()
        self._wait_for_long_jobs(self.settings.shutdown_timeout / 2)
        self._jobs.run(Shutdown(executor, self.id) for served in self.partitions
                       for executor in served.executors() if executor.consumer)
        self.client.pause_all()
        self.status.request(ListenerState.QUIET)

    def serve_while_quiet(self) -> None:
        """Quiet: stay in the group, paused; serve rebalances until asked to stop.

        Each poll waits up to ``QUIET_POLL`` for a rebalance: what newly assigned partitions
        deliver meanwhile is sought back and paused, never processed.
        """
        stopping = self._stopping
        while not stopping():
            if not self.client.connected:  # a reset was cut short by the stop: nothing to serve
                self._changed.clear()
                self._changed.wait(QUIET_POLL)
                continue
            # a revoked partition's async job past its grace is cancelled here too; its end
            # (and revoked hook) is served by the stop, as a long job's calls are: a release
            # now would resume a partition while quiet
            self._revocations.cancel_overdue()
            raws = self.after_rebalance(self._iteration.poll(100, QUIET_POLL, stopping))
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
        Running it twice is harmless (the thread's ``finally`` makes sure it ran once).
        """
        if self.status.state is ListenerState.STOPPED:
            return
        try:
            self.status.stop()
            self._jobs.wait()
            self._wait_for_long_jobs(self.settings.shutdown_timeout / 4)
            self.producer.flush(self.settings.shutdown_timeout / 4, report=False)  # close reports
            self.client.close(timeout=self.settings.shutdown_timeout / 4)
        except Exception as error:  # noqa: BLE001 - closing must not raise out of the thread
            self._report(error)
        finally:
            self.partitions.clear()
            if self._builder.transactional is not None:
                self._builder.transactional.close_all()
            self.status.request(ListenerState.STOPPED)

    def reset_client(self) -> None:
        """Drain this group's jobs, rebuild the client, back off.

        The old client's partitions are gone: their consumers hear ``revoked`` (as lost)
        before the new client gets its assignment.
        """
        self._jobs.wait()
        self._wait_for_long_jobs(self.settings.shutdown_timeout / 4)
        self._jobs.clear()
        try:
            self.client.close(timeout=1.0)
        except Exception as error:  # noqa: BLE001 - a broken client may fail to close
            self._report(error)
        self._revocations.let_go(self.partitions.clear(), lost=True)
        self._builder.release()  # the producers prepared for partitions never served too
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

    # -- reads for the parts ---------------------------------------------------------------------

    def _current_client(self) -> ListenerClient:
        return self.client

    def _not_running(self) -> bool:
        return not self.status.is_running

    def _stopping(self) -> bool:
        return self.status.reached(ListenerState.STOPPING)

    def _wait_for_long_jobs(self, timeout: float) -> None:
        self._long.wait(lambda: self.partitions, timeout)

    def _serve(self, key: PartitionKey) -> Served:
        """Everything one newly served partition needs, bound to the current client."""
        return self._builder.build(key, self._long.port_for(key[0], self.client))

    def _report(self, error: Exception) -> None:
        self.monitor.instrument("error.occurred", self, type="connection.listener.fetch_loop.error",
                                error=error, subscription_group=self.id)
