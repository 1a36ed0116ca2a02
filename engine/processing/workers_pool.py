"""Worker threads that run jobs from the jobs queue; a worker never dies of an exception."""

from __future__ import annotations

import itertools
import threading
import time

from engine.instrumentation.monitor import Monitor
from engine.processing.job_invoker import JobInvoker
from engine.processing.jobs_queue import JobsQueue


class WorkersPool:
    """A resizable set of named worker threads sharing one jobs queue."""

    def __init__(self, jobs_queue: JobsQueue, monitor: Monitor) -> None:
        self._queue = jobs_queue
        self._monitor = monitor
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._target = 0

    def alive(self) -> list[threading.Thread]:
        """Worker threads still running."""
        return [thread for thread in self._threads if thread.is_alive()]

    def scale(self, size: int) -> None:
        """Grow to ``size`` now, or shrink by asking workers to exit after their current job."""
        size = max(1, size)
        with self._lock:
            before, self._target = self._target, size
            for _ in range(size - before):
                self._start_worker()
            for _ in range(before - size):
                self._queue.push_sentinel()
        if size != before:
            event = "worker.scaling.up" if size > before else "worker.scaling.down"
            self._monitor.instrument(event, self, from_size=before, to_size=size)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every worker to exit (after the queue closes); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not self.alive()

    def _start_worker(self) -> None:
        worker = Worker(self._queue, self._monitor)
        thread = threading.Thread(
            target=worker.run, name=f"engine.worker#{next(self._numbers)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()


class Worker:
    """Pops jobs and runs them until the queue says exit."""

    def __init__(self, jobs_queue: JobsQueue, monitor: Monitor) -> None:
        self._queue = jobs_queue
        self._wake = threading.Lock()
        self._wake.acquire()
        self._invoker = JobInvoker(monitor, self)

    def run(self) -> None:
        """The worker loop: each finished job is completed as the next one is taken."""
        job = self._queue.pop(self._wake)
        run = self._invoker.run
        while job is not None:
            run(job)
            job = self._queue.pop(self._wake, done=job)
