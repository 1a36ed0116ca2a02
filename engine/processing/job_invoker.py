"""Running one job the way a worker does: instrumented, and never failing its caller."""

from __future__ import annotations

import time
from typing import Any

from engine.instrumentation.monitor import Monitor
from engine.processing.death import ProcessDeath


class JobInvoker:
    """Invokes jobs with the ``worker.*`` events; anything a job raises is reported, not raised.

    Workers use one each; the testing kit runs its jobs inline through one. Only a
    ``ProcessDeath`` (a simulated SIGKILL) goes through.
    """

    def __init__(self, monitor: Monitor, sender: object) -> None:
        self._monitor = monitor
        self._sender = sender
        self._process = monitor.signal("worker.process")
        self._processed = monitor.signal("worker.processed")
        self._completed = monitor.signal("worker.completed")

    def run(self, job: Any) -> None:
        """Run one job; whatever happens (but a process death), it is reported as completed."""
        try:
            started = self._process_(job)
            job.run()
            self._processed_(job, started)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - a worker survives anything a job does;
            # only the queue ends it (a None from pop), so SystemExit from user code does not
            self._failed(job, error)
        self._completed_(job)

    async def run_async(self, job: Any) -> None:
        """Run one async consumer's job on the loop, reported as ``run`` reports a job."""
        try:
            started = self._process_(job)
            await job.run_async()
            self._processed_(job, started)
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - a cancelled job ends as failed too
            self._failed(job, error)
        self._completed_(job)

    def _process_(self, job: Any) -> float:
        if self._process.receivers:
            self._monitor.instrument("worker.process", self._sender, job=job.public)
        return time.perf_counter()

    def _processed_(self, job: Any, started: float) -> None:
        if self._processed.receivers:
            self._monitor.instrument("worker.processed", self._sender, job=job.public,
                                     time=time.perf_counter() - started)

    def _failed(self, job: Any, error: BaseException) -> None:
        self._monitor.instrument("error.occurred", self._sender, type="worker.process.error",
                                 error=error, job=job.public)

    def _completed_(self, job: Any) -> None:
        if self._completed.receivers:
            self._monitor.instrument("worker.completed", self._sender, job=job.public)
