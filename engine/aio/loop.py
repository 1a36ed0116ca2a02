"""The app's event loop: one thread named ``engine.loop`` running the async consumers' jobs.

The jobs queue hands it the jobs of async consumers (``submit``) instead of queueing them for
the workers; each runs as a task, at most ``max_jobs`` at a time (the rest wait for a slot in
push order), and ``done`` is called with the job when its task ends, whatever happened, as a
worker completes a job. Nothing here decides about offsets: the jobs do, as on a worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.processing.job_invoker import JobInvoker

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor

log = logging.getLogger("engine.loop")
CANCEL_WAIT = 1.0  # seconds a caller waits for the loop to take a cancel in
Done = Callable[[Any], None]
"""Called (on the loop's thread) with a job whose task ended."""


class EngineLoop:
    """An asyncio loop on its own thread, started and stopped with the app's runner."""

    def __init__(self, monitor: Monitor, max_jobs: int, name: str = "engine.loop") -> None:
        self._invoker = JobInvoker(monitor, self)  # the sender of its jobs' worker.* events
        self._max_jobs = max_jobs
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._slots: asyncio.Semaphore | None = None  # made on the loop (3.9 binds it there)
        self._tasks: dict[asyncio.Task[None], Any] = {}  # the loop thread's own

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop (for what must be scheduled on it)."""
        return self._loop

    def start(self) -> None:
        """Run the loop on its thread (idempotent)."""
        if self._thread is not None:
            return
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name=self._name,
                                        daemon=True)
        self._thread.start()
        started.wait()

    def submit(self, job: Any, done: Done) -> None:
        """Run ``job`` as a task (any thread); ``done(job)`` once it ended."""
        self._loop.call_soon_threadsafe(self._spawn, job, done)

    def cancel(self, which: Callable[[Any], bool] = lambda job: True) -> list[str]:
        """Cancel the running or waiting jobs ``which`` picks (any thread); their reprs.

        A cancelled job's consumer sees ``asyncio.CancelledError`` at its current await;
        the job then ends as a failed one (nothing of it marked) and is done as usual.
        """
        if self._thread is None or not self._loop.is_running():
            return []
        future = asyncio.run_coroutine_threadsafe(self._cancel(which), self._loop)
        try:
            return future.result(CANCEL_WAIT)
        except concurrent.futures.TimeoutError:
            # a task holds the loop (a sync call inside async def): the cancel runs when it
            # lets go; the caller (a stop) must not wait for that
            log.warning("the event loop is blocked: cancelling its jobs once it runs again")
            return []

    def stop(self, timeout: float) -> bool:
        """Cancel what still runs, stop the loop and join its thread.

        False when the thread outlasted ``timeout`` (a task that swallows cancellation, or
        blocks the loop).
        """
        thread = self._thread
        if thread is None:
            self._loop.close()
            return True
        # the tasks get half the budget to end: the loop then stops within the rest
        asyncio.run_coroutine_threadsafe(self._wind_down(timeout / 2), self._loop)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the event loop did not stop within %.1fs", timeout)
            return False
        self._loop.close()
        return True

    # -- the loop's thread ------------------------------------------------------------------

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(started.set)
        self._loop.run_forever()

    def _spawn(self, job: Any, done: Done) -> None:
        task = self._loop.create_task(self._job(job, done))
        self._tasks[task] = job

    async def _job(self, job: Any, done: Done) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_jobs)
        try:
            try:
                await self._slots.acquire()
            except asyncio.CancelledError:
                job.abandon()  # cancelled before it ran: its batch fails, never skipped
                return
            try:
                await self._invoker.run_async(job)
            finally:
                self._slots.release()
        finally:
            self._tasks.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            done(job)

    async def _wind_down(self, timeout: float) -> None:
        """Cancel every task left (jobs, a producer's delivery pump), let them end, stop."""
        left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=timeout)
        self._loop.stop()

    async def _cancel(self, which: Callable[[Any], bool]) -> list[str]:
        picked = [(task, job) for task, job in self._tasks.items() if which(job)]
        for task, _ in picked:
            task.cancel()
        return [repr(job) for _, job in picked]

    def __repr__(self) -> str:
        """The loop's thread name."""
        return f"<EngineLoop {self._name}>"
