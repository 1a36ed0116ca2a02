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
        monitor, sender = self._monitor, self._sender
        try:
            if self._process.receivers:
                monitor.instrument("worker.process", sender, job=job.public)
            started = time.perf_counter()
            job.run()
            if self._processed.receivers:
                monitor.instrument(
                    "worker.processed", sender, job=job.public, time=time.perf_counter() - started
                )
        except ProcessDeath:
            raise
        except BaseException as error:  # noqa: BLE001 - a worker survives anything a job does;
            # only the queue ends it (a None from pop), so SystemExit from user code does not
            monitor.instrument(
                "error.occurred", sender, type="worker.process.error", error=error, job=job.public
            )
        if self._completed.receivers:
            monitor.instrument("worker.completed", sender, job=job.public)
