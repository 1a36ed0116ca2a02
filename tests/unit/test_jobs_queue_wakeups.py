"""The jobs queue wakes workers lazily: one per push burst, more for jobs that stay queued."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engine.processing.jobs_queue import JobsQueue

DEADLINE = 30.0  # generous: each wait below ends in milliseconds when the queue is right


@dataclass(eq=False)
class Job:
    group_id: str = "g"
    non_blocking: bool = False
    on_loop: bool = False
    gate: threading.Event | None = None  # the job waits on it
    opens: threading.Event | None = None  # the job sets it
    ran_on: list[str] = field(default_factory=list)

    def run(self) -> None:
        self.ran_on.append(threading.current_thread().name)
        if self.opens is not None:
            self.opens.set()
        if self.gate is not None:
            assert self.gate.wait(DEADLINE), "the job this one waits for never ran"


class Workers:
    """Threads popping from the queue the way the engine's workers do."""

    def __init__(self, queue: JobsQueue, count: int) -> None:
        self.queue = queue
        self.woken = 0
        self.lock = threading.Lock()
        self.parked = threading.Semaphore(0)
        self.threads = [threading.Thread(target=self._run, name=f"w{n}", daemon=True)
                        for n in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        wake = threading.Lock()
        wake.acquire()
        job = self.queue.pop(wake)
        while job is not None:
            job.run()
            job = self.queue.pop(wake, done=job)

    def idle(self, count: int) -> None:
        """Wait until ``count`` workers are parked on the queue."""
        waited = 0.0
        while len(self.queue._idle) < count:
            assert waited < DEADLINE, "workers never parked"
            threading.Event().wait(0.001)
            waited += 0.001

    def close(self) -> None:
        self.queue.close()
        for thread in self.threads:
            thread.join(DEADLINE)


def started(count: int) -> tuple[JobsQueue, Workers]:
    queue = JobsQueue()
    queue.register("g")
    workers = Workers(queue, count)
    workers.idle(count)
    return queue, workers


def test_a_burst_of_short_jobs_wakes_one_worker_that_runs_them_in_turn() -> None:
    queue, workers = started(4)
    jobs = [Job() for _ in range(6)]
    for job in jobs:
        queue.push(job)
    assert len(queue._idle) == 3  # one woken for the burst, three left parked (old: 0)
    queue.wait("g")
    assert all(job.ran_on for job in jobs)
    workers.close()


def test_jobs_still_queued_after_the_fan_out_delay_get_idle_workers() -> None:
    # the first job blocks until the second has run: one worker alone would never finish
    queue, workers = started(2)
    opened = threading.Event()
    first, second = Job(gate=opened), Job(opens=opened)
    queue.push(first)
    queue.push(second)
    listener = threading.Thread(target=queue.wait, args=("g",), daemon=True)
    listener.start()  # the listener's wait wakes the parked worker for the queued job
    listener.join(DEADLINE)
    assert not listener.is_alive(), "the queued job never got the idle worker"
    assert first.ran_on and second.ran_on and first.ran_on != second.ran_on
    workers.close()


def test_a_non_blocking_job_always_wakes_its_own_worker() -> None:
    # two long jobs pushed together, no listener waiting: both must run at once
    queue, workers = started(2)
    first_ran, second_ran = threading.Event(), threading.Event()
    first = Job(non_blocking=True, gate=second_ran, opens=first_ran)
    second = Job(non_blocking=True, gate=first_ran, opens=second_ran)
    queue.push(first)
    queue.push(second)
    assert first_ran.wait(DEADLINE) and second_ran.wait(DEADLINE)
    workers.close()
