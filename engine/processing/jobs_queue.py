"""The jobs queue: one FIFO shared by all listeners, with a per-listener wait for completion."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from engine.errors import QueueClosedError


class Queueable(Protocol):
    """What the queue needs of a job: the group it belongs to and whether it blocks polling."""

    group_id: str
    non_blocking: bool
    on_loop: bool


class LoopSubmit(Protocol):
    """Where the jobs of async consumers run (``engine.aio.loop.EngineLoop``)."""

    def submit(self, job: Any, done: Callable[[Any], None]) -> None: ...
    def cancel(self, which: Callable[[Any], bool]) -> list[str]: ...


class ListenerQueue(Protocol):
    """What a listener needs of the jobs queue (the testing kit runs jobs inline behind it)."""

    def register(self, group_id: str) -> None: ...
    def push(self, job: Queueable) -> None: ...
    def wait(self, group_id: str, tick: float = 0.2) -> None: ...
    def clear(self, group_id: str) -> None: ...
    def cancel(self, group_id: str, which: Callable[[Any], bool]) -> None: ...


_PARKED: Any = object()
# How long a listener's jobs may wait in the queue for the one worker woken for them before
# idle workers are woken too. Waking a worker per job makes short, GIL-bound jobs contend
# (measured: a quarter of the throughput at concurrency 4); a job that outlasts this (I/O,
# say) gets its parallel workers at most this much later.
FAN_OUT_DELAY = 0.001


class _ListenerWait:
    __slots__ = ("in_flight", "wake")

    def __init__(self) -> None:
        self.in_flight: set[Any] = set()
        self.wake = threading.Lock()  # held while nobody needs waking; released on change
        self.wake.acquire()


class JobsQueue:
    """Jobs in FIFO order for workers; each listener waits for its own group's jobs.

    Threads park on plain locks (C-level, cheaper than Conditions), and the most recently idle
    worker is woken first: its stack and caches are warm. Workers are woken lazily: a push
    wakes one unless one is already on its way (that one takes the queued jobs in turn), a
    non-blocking job always wakes one, and a waiting listener wakes idle workers for whatever
    is still queued after ``FAN_OUT_DELAY``.

    An async consumer's job (``on_loop``) goes to ``loop`` instead of the workers; it is in
    flight for its listener's ``wait`` like any other until the loop completes it.
    """

    def __init__(self, loop: LoopSubmit | None = None) -> None:
        self._loop = loop
        self._mutex = threading.Lock()
        self._jobs: deque[Any] = deque()
        self._idle: list[threading.Lock] = []
        self._waking = 0  # workers released from park that have not taken a job yet
        self._groups: dict[str, _ListenerWait] = {}
        self._closed = False

    def register(self, group_id: str) -> None:
        """Prepare the wait of one listener's group (idempotent)."""
        with self._mutex:
            self._groups.setdefault(group_id, _ListenerWait())

    def push(self, job: Queueable) -> None:
        """Schedule a job; raises ``QueueClosedError`` once closed."""
        with self._mutex:
            if self._closed:
                raise QueueClosedError(f"jobs queue is closed; cannot schedule {job!r}")
            self._groups[job.group_id].in_flight.add(job)
            on_loop = job.on_loop
            if on_loop:
                waker = None
            else:
                self._jobs.append(job)
                waker = self._wake_one() if job.non_blocking or not self._waking else None
        if waker is not None:
            waker.release()
        elif on_loop:
            self._to_loop(job)

    def _to_loop(self, job: Queueable) -> None:
        """Hand an async consumer's job to the loop (outside the mutex: it may run at once)."""
        if self._loop is None:
            self.complete(job)
            raise RuntimeError(f"{job!r} is an async consumer's job, and no loop runs them")
        try:
            self._loop.submit(job, self.complete)
        except RuntimeError as closed:  # the loop was stopped: never left in flight
            self.complete(job)
            raise QueueClosedError(f"the event loop is closed; cannot run {job!r}") from closed

    def push_sentinel(self) -> None:
        """Ask one worker to exit (used to scale the pool down)."""
        with self._mutex:
            self._jobs.append(None)
            waker = self._wake_one()
        if waker is not None:
            waker.release()

    def _wake_one(self) -> threading.Lock | None:
        """The most recently idle worker's lock, to release outside the mutex (or None)."""
        if not self._idle:
            return None
        self._waking += 1
        return self._idle.pop()

    def pop(self, wake: threading.Lock, done: Queueable | None = None) -> Any:
        """Complete ``done`` (if given), then the next job; None means exit.

        Blocks until there is a job. ``wake`` is the calling worker's own lock, held by it
        while it is not parked. Completing and parking happen under one lock, so a worker is
        on the idle stack before its listener wakes: the listener's next job goes back to it
        instead of waking another, colder worker.
        """
        with self._mutex:
            if done is not None:
                self._complete(done)
            job = self._take_or_park(wake)
        while job is _PARKED:
            wake.acquire()
            with self._mutex:
                self._waking -= 1
                job = self._take_or_park(wake)
        return job

    def _take_or_park(self, wake: threading.Lock) -> Any:
        if self._jobs:
            return self._jobs.popleft()
        if self._closed:
            return None
        self._idle.append(wake)
        return _PARKED

    def complete(self, job: Queueable) -> None:
        """Mark a job done and wake its listener if that was the last one in flight."""
        with self._mutex:
            self._complete(job)

    def _complete(self, job: Queueable) -> None:
        waiting = self._groups[job.group_id]
        waiting.in_flight.discard(job)
        if not waiting.in_flight and waiting.wake.locked():
            waiting.wake.release()

    def wait(self, group_id: str, tick: float = 0.2) -> None:
        """Block until no blocking job of ``group_id`` is in flight (re-checked every tick).

        Past ``FAN_OUT_DELAY``, idle workers are woken for the jobs still queued.
        """
        waiting = self._groups[group_id]
        fan_out_at: float | None = time.monotonic() + FAN_OUT_DELAY
        while True:
            wakers: list[threading.Lock] = []
            with self._mutex:
                if not any(not job.non_blocking for job in waiting.in_flight):
                    return
                if fan_out_at is not None and time.monotonic() >= fan_out_at:
                    fan_out_at = None
                    wakers = self._fan_out()
            for waker in wakers:
                waker.release()
            timeout = tick if fan_out_at is None else max(0.0, fan_out_at - time.monotonic())
            waiting.wake.acquire(timeout=timeout)

    def _fan_out(self) -> list[threading.Lock]:
        """Locks of idle workers for the queued jobs no woken worker will take first."""
        wanted = max(0, min(len(self._jobs) - self._waking, len(self._idle)))
        self._waking += wanted
        return [self._idle.pop() for _ in range(wanted)]

    def is_empty(self, group_id: str) -> bool:
        """True when no job of the group is queued or running."""
        with self._mutex:
            return not self._groups[group_id].in_flight

    def clear(self, group_id: str) -> None:
        """Forget the group's queued jobs (after a listener reset); running ones finish alone."""
        with self._mutex:
            waiting = self._groups[group_id]
            queued = [job for job in self._jobs if job is not None and job.group_id == group_id]
            for job in queued:
                self._jobs.remove(job)
            waiting.in_flight.clear()
            if waiting.wake.locked():
                waiting.wake.release()

    def cancel(self, group_id: str, which: Callable[[Any], bool]) -> None:
        """Cancel the group's async jobs ``which`` picks (they end as failed, then complete)."""
        if self._loop is not None:
            self._loop.cancel(lambda job: job.group_id == group_id and which(job))

    def close(self) -> None:
        """Refuse new jobs and let idle workers exit once the queue is drained."""
        with self._mutex:
            self._closed = True
            idle, self._idle = self._idle, []
            self._waking += len(idle)
            for waiting in self._groups.values():
                if waiting.wake.locked():
                    waiting.wake.release()
        for waker in idle:
            waker.release()

    def in_processing(self) -> dict[str, list[Any]]:
        """A snapshot of queued and running jobs per group, for diagnostics."""
        with self._mutex:
            return {gid: list(waiting.in_flight) for gid, waiting in self._groups.items()}

    def statistics(self) -> dict[str, int]:
        """Jobs queued for the workers (not yet picked), run by them, and on the loop."""
        with self._mutex:
            queued = sum(1 for job in self._jobs if job is not None)
            in_flight = sum(len(waiting.in_flight) for waiting in self._groups.values())
            on_loop = sum(job.on_loop for waiting in self._groups.values()
                          for job in waiting.in_flight)
        return {"enqueued": queued, "busy": in_flight - queued - on_loop, "on_loop": on_loop}
