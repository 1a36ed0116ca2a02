"""The server: one run of the runner, embedded (background threads) or owning the process."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.connection.conductor import Conductor
from engine.errors import StopTimeout
from engine.lifecycle.app_state import AppState
from engine.processing.jobs_queue import JobsQueue
from engine.processing.workers_pool import WorkersPool
from engine.runner import Runner

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.config.settings import Settings
    from engine.connection.listener import Listener
    from engine.instrumentation.monitor import Monitor
    from engine.lifecycle.lifecycle import Lifecycle
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup

log = logging.getLogger("engine.server")
FORCED_EXIT_CODE = 2
CLOSE_WAIT = 5.0  # seconds a forced stop gives clients to close before the process exits
FLUSH_WAIT = 1.0  # seconds an overdue stop still gives the producer to deliver


class Server:
    """Wires queue, pool, conductor and runner for one app; starts, quiets and stops them."""

    def __init__(self, lifecycle: Lifecycle, monitor: Monitor, settings: Settings,
                 producer: Producer, groups: Sequence[SubscriptionGroup]) -> None:
        self.lifecycle, self.monitor, self.settings = lifecycle, monitor, settings
        self.producer = producer
        self.jobs_queue = JobsQueue()
        self.workers = WorkersPool(self.jobs_queue, monitor)
        self.conductor = Conductor()
        lifecycle.watch(self.conductor.wake)
        self.runner = Runner(lifecycle, monitor, settings, groups, producer,
                             self.jobs_queue, self.workers, self.conductor)
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._stop_lock = threading.Lock()

    def run_runner(self) -> None:
        """Run the runner on this thread; remember how it ended."""
        try:
            self.runner.call()
        except BaseException as error:
            self.error = error
            raise
        finally:
            self.finished.set()

    def start_background(self) -> None:
        """Run the runner in a thread; return once running, or raise what stopped it."""
        thread = threading.Thread(target=self._run_quietly, name="engine.runner", daemon=True)
        thread.start()
        while not self.lifecycle.reached(AppState.RUNNING) and not self.finished.is_set():
            self.finished.wait(0.05)
        if self.error is not None:
            raise self.error

    def _run_quietly(self) -> None:
        try:
            self.run_runner()
        except BaseException:
            log.debug("runner ended with an error", exc_info=True)

    def quiet(self) -> None:
        """Stop taking new work but keep the partitions."""
        self.lifecycle.request(AppState.QUIETING)

    def wait_for(self, state: AppState, timeout: float) -> bool:
        """Wait until the app reaches ``state`` (or the runner ends); False on timeout."""
        reached = threading.Event()
        self.lifecycle.watch(lambda: reached.set() if self.lifecycle.reached(state)
                                 else None)
        if self.lifecycle.reached(state):
            return True
        reached.wait(timeout)
        return self.lifecycle.reached(state)

    def stop(self) -> dict[str, Any] | None:
        """Stop gracefully within ``shutdown_timeout``; None when done, else what still runs."""
        with self._stop_lock:
            lifecycle = self.lifecycle
            lifecycle.request(AppState.STOPPING)
            deadline = time.monotonic() + self.settings.shutdown_timeout
            if not self.finished.wait(self.settings.shutdown_timeout):
                self.producer.flush(FLUSH_WAIT)  # reports what it could not deliver
                report = self.report()
                self.monitor.instrument(
                    "error.occurred", self, type="app.stopping.error",
                    error=StopTimeout(self.settings.shutdown_timeout, report), **report,
                )
                return report
            # the listeners flushed before their final commits; this reports what is left
            self.producer.close(max(0.0, deadline - time.monotonic()))
            lifecycle.request(AppState.STOPPED)
            lifecycle.request(AppState.TERMINATED)
            return None

    def stop_or_raise(self) -> None:
        """Embedded stop: raise ``StopTimeout`` (state stays stopping) past the timeout."""
        report = self.stop()
        if report is not None:
            raise StopTimeout(self.settings.shutdown_timeout, report)

    def report(self) -> dict[str, Any]:
        """What is still running: jobs in processing, active listeners, alive workers."""
        listeners: Sequence[Listener] = self.runner.listeners or []
        return {
            "in_processing": {
                group_id: [repr(job) for job in jobs]
                for group_id, jobs in self.jobs_queue.in_processing().items() if jobs
            },
            "active_listeners": [item.id for item in listeners if item.status.is_active],
            "alive_workers": [thread.name for thread in self.workers.alive()],
        }

    def force_exit(self) -> None:
        """Close what can be closed safely (bounded), flush the logs, exit with code 2."""
        closer = threading.Thread(target=self._close_idle_clients, name="engine.closer",
                                  daemon=True)
        closer.start()
        closer.join(CLOSE_WAIT)
        logging.shutdown()
        os._exit(FORCED_EXIT_CODE)

    def _close_idle_clients(self) -> None:
        self.producer.flush(FLUSH_WAIT)  # reports what it could not deliver
        # a client whose listener is inside consume() is never closed: the binding would crash
        for listener in self.runner.listeners or []:
            if listener.status.is_active:
                try:
                    listener.client.close_if_idle(timeout=1.0)
                except Exception:
                    log.debug("closing %s failed", listener.id, exc_info=True)
