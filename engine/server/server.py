"""The server: one run of an app, embedded (background threads) or owning the process.

Read it top to bottom, as uvicorn's server reads: ``serve`` runs the run's thread through the
runner (Karafka's ``Runner#call``), which calls back ``startup`` (the app runs, the listeners
start) and ``main_loop`` (wait for a wake-up, then move the listeners along, until all stopped).
``shutdown``, from any other thread, asks for the stop and waits for it, bounded by
``shutdown_timeout``, then finishes the app. The server is the only writer of the app's state:
the app, the runner and the listener steps ask or report, and the server moves the lifecycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.connection.listeners_batch import ListenersBatch
from engine.errors import StopTimeout
from engine.lifecycle.app_state import AppState
from engine.runner import Runner
from engine.server import overdue
from engine.server.listener_steps import ListenerSteps
from engine.server.wake_ups import WakeUps

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.config.settings import Settings
    from engine.connection.listener import Listener
    from engine.instrumentation.monitor import Monitor
    from engine.lifecycle.lifecycle import Lifecycle
    from engine.processing.jobs_queue import JobsQueue
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup

log = logging.getLogger("engine.server")
TICK = 0.2  # longest the main loop sleeps without looking (keeps signals on the main thread live)


class Server:
    """Runs the runner for one app; starts, quiets and stops it; moves the app's state."""

    def __init__(self, lifecycle: Lifecycle, monitor: Monitor, settings: Settings,
                 producer: Producer, groups: Sequence[SubscriptionGroup],
                 build_listeners: Callable[..., ListenersBatch] = ListenersBatch) -> None:
        self.lifecycle, self.monitor, self.settings = lifecycle, monitor, settings
        self.producer = producer
        self.runner = Runner(monitor, settings, groups, producer, self, build_listeners)
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._wake_ups = WakeUps()
        self._listeners = ListenerSteps()
        self._stop_lock = threading.Lock()

    @property
    def jobs_queue(self) -> JobsQueue:
        """The run's jobs queue (the runner's)."""
        return self.runner.jobs_queue

    # -- the run: serve -> startup -> main_loop (the runner calls the last two) ----------------

    def start_background(self) -> None:
        """Serve in a thread; return once running, or raise what stopped it."""
        thread = threading.Thread(target=self._serve_quietly, name="engine.runner", daemon=True)
        thread.start()
        while not self.lifecycle.reached(AppState.RUNNING) and not self.finished.is_set():
            self.finished.wait(0.05)
        if self.error is not None:
            raise self.error

    def _serve_quietly(self) -> None:
        try:
            self.serve()
        except BaseException:
            log.debug("runner ended with an error", exc_info=True)

    def serve(self) -> None:
        """Run the runner on this thread; remember how it ended."""
        try:
            self.runner.call()
        except BaseException as error:
            self.error = error
            raise
        finally:
            self.finished.set()

    def startup(self, listeners: Sequence[Listener]) -> None:
        """The runner built its listeners: the app runs, and they start."""
        self._move(AppState.RUNNING)
        self._listeners.start(listeners)

    def main_loop(self) -> None:
        """Until every listener stopped: wait for a wake-up (or a tick), then look."""
        while not self._listeners.all_stopped():
            self._wake_ups.wait(TICK)
            self._on_tick()

    def _on_tick(self) -> None:
        """Quiet every listener once winding down; once all are quiet, settle or stop them."""
        lifecycle = self.lifecycle
        if not lifecycle.is_winding_down:
            return
        self._listeners.quiet_all()
        if not self._listeners.all_quiet():
            return
        if lifecycle.state is AppState.QUIETING:
            self._move(AppState.QUIET)
        elif lifecycle.is_stopping:
            self._listeners.stop_all()

    def wake(self) -> None:
        """Something changed (a listener's state): the main loop looks again."""
        self._wake_ups.wake()

    def runner_failed(self) -> None:
        """The runner reported its failure: the app stops (the runner cleans up)."""
        self._move(AppState.STOPPING)

    # -- asked from other threads: quiet, shutdown ---------------------------------------------

    def quiet(self) -> None:
        """Stop taking new work but keep the partitions."""
        self._move(AppState.QUIETING)

    def pause_partition(self, topic: str, partition: int, timeout: float) -> None:
        """Ask the listeners of ``topic`` to pause the partition (its owner does)."""
        for listener in self._listeners_of(topic):
            listener.pause_partition(topic, partition, timeout)

    def resume_partition(self, topic: str, partition: int) -> None:
        """Ask the listeners of ``topic`` to end the partition's pause (its owner does)."""
        for listener in self._listeners_of(topic):
            listener.resume_partition(topic, partition)

    def _listeners_of(self, topic: str) -> list[Listener]:
        return [listener for listener in self.runner.listeners or ()
                if topic in listener.subscription_group.topic_names]

    def wait_for(self, state: AppState, timeout: float) -> bool:
        """Wait until the app reaches ``state`` (or the runner ends); False on timeout."""
        reached = threading.Event()

        def changed() -> None:
            if self.lifecycle.reached(state):
                reached.set()

        self.lifecycle.watch(changed)
        try:
            if not self.lifecycle.reached(state):
                reached.wait(timeout)
            return self.lifecycle.reached(state)
        finally:  # a watcher per wait would pile up on an app quieted again and again
            self.lifecycle.unwatch(changed)

    def shutdown(self) -> dict[str, Any] | None:
        """Stop gracefully within ``shutdown_timeout``; None when done, else what still runs."""
        with self._stop_lock:
            self._move(AppState.STOPPING)
            deadline = time.monotonic() + self.settings.shutdown_timeout
            if self.finished.wait(self.settings.shutdown_timeout):
                self._stopped(deadline)
                return None
            # async consumers' jobs can be cancelled (sync ones cannot): they end as failed,
            # nothing of them marked, and the stop may then finish; it is still overdue
            cancelled = self.runner.cancel_async_jobs()
            if cancelled and self.finished.wait(overdue.CANCEL_WAIT):
                report = self._overdue(cancelled)
                self._stopped(time.monotonic() + overdue.FLUSH_WAIT)
                return report
            return self._overdue(cancelled)

    def _stopped(self, deadline: float) -> None:
        """Every listener stopped: close the producer, then stopped and terminated."""
        # the listeners flushed before their final commits; this reports what is left
        self.producer.close(max(0.0, deadline - time.monotonic()))
        self._move(AppState.STOPPED)
        self._move(AppState.TERMINATED)

    def _overdue(self, cancelled: list[str]) -> dict[str, Any]:
        """The stop outlasted ``shutdown_timeout``: report it (with the async jobs cancelled)."""
        self.producer.flush(overdue.FLUSH_WAIT)  # reports what it could not deliver
        report = self.report()
        if cancelled:
            report["cancelled"] = cancelled
        self.monitor.instrument(
            "error.occurred", self, type="app.stopping.error",
            error=StopTimeout(self.settings.shutdown_timeout, report), **report,
        )
        return report

    def shutdown_or_raise(self) -> None:
        """Embedded stop: raise ``StopTimeout`` (state stays stopping) past the timeout."""
        report = self.shutdown()
        if report is not None:
            raise StopTimeout(self.settings.shutdown_timeout, report)

    def report(self) -> dict[str, Any]:
        """What is still running: jobs in processing, active listeners, alive workers."""
        return overdue.still_running(self.runner)

    def force_exit(self) -> None:
        """Close what can be closed safely (bounded), flush the logs, exit with code 2."""
        overdue.force_exit(self.runner, self.producer)

    # -- the app's state: every move after initialized is made here -------------------------

    def abandon(self) -> None:
        """The start failed before the run began: stopping, stopped, terminated."""
        for state in (AppState.STOPPING, AppState.STOPPED, AppState.TERMINATED):
            self._move(state)

    def _move(self, state: AppState) -> None:
        self.lifecycle.request(state)
        self._wake_ups.wake()  # the main loop looks at once instead of at its next tick
