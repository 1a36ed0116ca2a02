"""The jobs queue against a model: FIFO, per-group waits, close, from several threads."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from engine.errors import QueueClosedError
from engine.processing.jobs_queue import JobsQueue

GROUPS = ("a", "b")
JOIN = 30.0  # generous: a correct waiter returns in microseconds


@dataclass(eq=False)
class FakeJob:
    group_id: str
    number: int
    non_blocking: bool = False
    on_loop: bool = False


@dataclass(eq=False)
class Waiter:
    group: str
    thread: threading.Thread
    done: threading.Event = field(default_factory=threading.Event)


class JobsQueueMachine(RuleBasedStateMachine):
    popped = Bundle("popped")

    def __init__(self) -> None:
        super().__init__()
        self.queue = JobsQueue()
        for group in GROUPS:
            self.queue.register(group)
        self.segments: deque[set[FakeJob]] = deque()  # FIFO of sets pushed concurrently
        self.in_flight: dict[str, set[FakeJob]] = {g: set() for g in GROUPS}
        self.waiters: list[Waiter] = []
        self.closed = False
        self.numbers = iter(range(10**9))
        self.wake = threading.Lock()
        self.wake.acquire()

    def _job(self, group: str) -> FakeJob:
        return FakeJob(group, next(self.numbers))

    @rule(group=st.sampled_from(GROUPS))
    def push(self, group: str) -> None:
        job = self._job(group)
        if self.closed:
            with pytest.raises(QueueClosedError):
                self.queue.push(job)
            return
        self.queue.push(job)
        self.segments.append({job})
        self.in_flight[group].add(job)

    @precondition(lambda self: not self.closed)
    @rule(groups=st.lists(st.sampled_from(GROUPS), min_size=2, max_size=5))
    def push_from_threads(self, groups: list[str]) -> None:
        jobs = [self._job(g) for g in groups]
        barrier = threading.Barrier(len(jobs))

        def push(job: FakeJob) -> None:
            barrier.wait(JOIN)
            self.queue.push(job)

        threads = [threading.Thread(target=push, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN)
        self.segments.append(set(jobs))
        for job in jobs:
            self.in_flight[job.group_id].add(job)

    @precondition(lambda self: any(self.segments) or self.closed)
    @rule(target=popped)
    def pop(self) -> FakeJob | None:
        job = self.queue.pop(self.wake)
        while self.segments and not self.segments[0]:
            self.segments.popleft()
        if not self.segments:
            assert job is None and self.closed
            return None
        assert job in self.segments[0], "jobs leave in the order they were pushed"
        self.segments[0].discard(job)
        return job

    @rule(job=consumes(popped))
    def complete(self, job: FakeJob | None) -> None:
        if job is None:
            return
        self.queue.complete(job)
        self.in_flight[job.group_id].discard(job)

    @rule(group=st.sampled_from(GROUPS))
    def wait_in_thread(self, group: str) -> None:
        waiter = Waiter(group, threading.Thread())

        def wait() -> None:
            self.queue.wait(group, tick=0.01)
            waiter.done.set()

        waiter.thread = threading.Thread(target=wait, daemon=True)
        waiter.thread.start()
        self.waiters.append(waiter)

    @rule()
    def close(self) -> None:
        self.queue.close()
        self.closed = True

    @invariant()
    def waiters_return_exactly_when_their_group_is_idle(self) -> None:
        for waiter in list(self.waiters):
            if self.in_flight[waiter.group]:
                assert not waiter.done.is_set(), "wait returned while jobs were in flight"
            else:
                assert waiter.done.wait(JOIN), "wait did not return for an idle group"
                self.waiters.remove(waiter)

    @invariant()
    def statistics_agree(self) -> None:
        queued = sum(len(s) for s in self.segments)
        in_flight = sum(len(jobs) for jobs in self.in_flight.values())
        assert self.queue.statistics() == {"enqueued": queued, "busy": in_flight - queued,
                                           "on_loop": 0}
        for group in GROUPS:
            assert self.queue.is_empty(group) == (not self.in_flight[group])

    def teardown(self) -> None:
        for group in GROUPS:
            self.queue.clear(group)
        for waiter in self.waiters:
            waiter.thread.join(JOIN)


TestJobsQueue = JobsQueueMachine.TestCase
TestJobsQueue.settings = settings(
    max_examples=4 * settings.default.max_examples // 5, stateful_step_count=30, deadline=None)
