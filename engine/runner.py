"""The runner: starts the listeners and workers, supervises them, and cleans up after them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.connection.conductor import Conductor
from engine.connection.listeners_batch import ListenersBatch
from engine.connection.manager import Manager
from engine.lifecycle.app_state import AppState
from engine.lifecycle.lifecycle import Lifecycle
from engine.processing.jobs_queue import JobsQueue
from engine.processing.workers_pool import WorkersPool

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup

TICK = 0.2  # longest the runner sleeps without looking (keeps signals on the main thread live)


class Runner:
    """Karafka's ``Runner#call``, step for step, in Python."""

    def __init__(self, lifecycle: Lifecycle, monitor: Monitor, settings: Settings,
                 groups: Sequence[SubscriptionGroup], producer: Producer,
                 jobs_queue: JobsQueue, workers: WorkersPool, conductor: Conductor,
                 build_listeners: Callable[..., ListenersBatch] = ListenersBatch) -> None:
        self.lifecycle, self.monitor, self.settings = lifecycle, monitor, settings
        self.groups, self.producer = groups, producer
        self.jobs_queue, self.workers, self.conductor = jobs_queue, workers, conductor
        self.manager = Manager(lifecycle)
        self.listeners: ListenersBatch | None = None
        self._build_listeners = build_listeners

    def call(self) -> None:
        """Run until every listener has stopped; on failure report, stop, clean up, re-raise."""
        try:
            listeners = self._build_listeners(self.groups, self.jobs_queue, self.monitor,
                                              self.settings, self.producer, self.conductor.wake)
            self.listeners = listeners  # before starting any: a failed start cleans up them all
            self.lifecycle.request(AppState.RUNNING)
            self.manager.register(listeners)
            # workers start last: a failure above leaves no worker blocked on an open queue
            self.workers.scale(self.settings.concurrency)
            while not self.manager.all_stopped():
                self.conductor.wait(TICK)
                self.manager.control()
            self.jobs_queue.close()
            self.workers.join()
        except Exception as error:
            self.monitor.instrument("error.occurred", self, type="runner.call.error", error=error)
            self.lifecycle.request(AppState.STOPPING)
            self._clean_up()
            raise

    def _clean_up(self) -> None:
        for listener in self.listeners or ():
            listener.quiet()
            listener.stop()
        self.jobs_queue.close()
        self.workers.join(self.settings.shutdown_timeout)
        for listener in self.listeners or ():
            listener.join(self.settings.shutdown_timeout)
