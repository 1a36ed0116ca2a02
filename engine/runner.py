"""The runner: Karafka's ``Runner#call``, step for step; the server it runs for moves the state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from engine.aio.loop import EngineLoop
from engine.connection.listeners_batch import ListenersBatch
from engine.processing.jobs_queue import JobsQueue
from engine.processing.workers_pool import WorkersPool

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup


class RunSteps(Protocol):
    """What the runner asks of its server (Karafka's app, manager and conductor, in one)."""

    def wake(self) -> None:
        """Something changed: look again (each listener's state changes call it)."""

    def startup(self, listeners: ListenersBatch) -> None:
        """The listeners are built: the app runs; start them."""

    def main_loop(self) -> None:
        """Return once every listener has stopped."""

    def runner_failed(self) -> None:
        """The runner failed: the app stops."""


class Runner:
    """Builds and starts the listeners, waits while they run, then closes queue and workers."""

    def __init__(self, monitor: Monitor, settings: Settings, groups: Sequence[SubscriptionGroup],
                 producer: Producer, server: RunSteps,
                 build_listeners: Callable[..., ListenersBatch] = ListenersBatch) -> None:
        self.monitor, self.settings = monitor, settings
        self.groups, self.producer, self.server = groups, producer, server
        # the queue and the pool wired to each other, here rather than in call(): the server
        # reports what they hold and the app's statistics read them from the start
        self.loop = _loop_for(groups, monitor, settings)
        self.jobs_queue = JobsQueue(self.loop)
        self.workers = WorkersPool(self.jobs_queue, monitor)
        self.listeners: ListenersBatch | None = None
        self._build_listeners = build_listeners

    def call(self) -> None:
        """Run until every listener has stopped; on failure report, stop, clean up, re-raise."""
        try:
            if self.loop is not None:
                self.loop.start()
            listeners = self._build_listeners(self.groups, self.jobs_queue, self.monitor,
                                              self.settings, self.producer, self.server.wake)
            self.listeners = listeners  # before starting any: a failed start cleans up them all
            self.server.startup(listeners)
            # workers start last: a failure above leaves no worker blocked on an open queue
            self.workers.scale(self.settings.concurrency)
            self.server.main_loop()
            # no listener runs, so no job comes any more: close, then let the workers finish
            self.jobs_queue.close()
            self.workers.join()
            self._stop_loop()
        except Exception as error:
            self.monitor.instrument("error.occurred", self, type="runner.call.error", error=error)
            self.server.runner_failed()
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
        self._stop_loop()

    def cancel_async_jobs(self) -> list[str]:
        """Cancel the async consumers' jobs still running (an overdue stop); what was cancelled."""
        return self.loop.cancel() if self.loop is not None else []

    def _stop_loop(self) -> None:
        if self.loop is not None:
            self.loop.stop(self.settings.shutdown_timeout)


def _loop_for(groups: Sequence[SubscriptionGroup], monitor: Monitor, settings: Settings
              ) -> EngineLoop | None:
    """The app's event loop, when a route has an async consumer (none runs otherwise)."""
    if not any(route.is_async for group in groups for route in group.topics):
        return None
    return EngineLoop(monitor, settings.max_async_jobs)
