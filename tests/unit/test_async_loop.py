"""The app's event loop, its stall watch, the shared asyncio lock and the queue's hand-off."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from engine.aio.loop import EngineLoop
from engine.aio.stalls import timed_steps
from engine.instrumentation.monitor import Monitor
from engine.processing.jobs_queue import JobsQueue
from engine.virtual.shared_lock import SharedLock

DEADLINE = 30.0


class LoopJob:
    """A job for the loop: waits until ``release`` (any thread), counting who runs at once."""

    group_id = "g"
    non_blocking = False
    on_loop = True
    public = None

    def __init__(self, name: str, tally: dict[str, Any]) -> None:
        self.name, self.tally = name, tally
        self.gate = threading.Event()
        self.abandoned = False
        self.cancelled = False

    async def run_async(self) -> None:
        tally = self.tally
        tally["now"] += 1
        tally["most"] = max(tally["most"], tally["now"])
        tally["started"].append(self.name)
        try:
            while not self.gate.is_set():
                await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            tally["now"] -= 1

    def abandon(self) -> None:
        self.abandoned = True

    def __repr__(self) -> str:
        return f"LoopJob({self.name})"


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_step_over_the_threshold_is_reported_with_its_length() -> None:
    stalls: list[float] = []

    async def blocking() -> int:
        await asyncio.sleep(0)
        time.sleep(0.03)  # the stall
        await asyncio.sleep(0)
        return 7

    async def main() -> int:
        result: int = await timed_steps(blocking(), 0.01, stalls.append)
        return result

    assert asyncio.run(main()) == 7
    assert len(stalls) == 1 and stalls[0] >= 0.03


def test_timed_steps_pass_errors_out_and_cancellation_in() -> None:
    reached: list[str] = []

    async def failing() -> None:
        raise ValueError("inner")

    async def waiting() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            reached.append("cancelled inside")
            raise

    async def main() -> None:
        with pytest.raises(ValueError, match="inner"):
            await timed_steps(failing(), 1.0, lambda took: None)
        task = asyncio.ensure_future(timed_steps(waiting(), 1.0, lambda took: None))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert reached == ["cancelled inside"]


def test_the_loop_runs_at_most_max_jobs_and_completes_each() -> None:
    tally: dict[str, Any] = {"now": 0, "most": 0, "started": []}
    loop = EngineLoop(Monitor(), max_jobs=2)
    loop.start()
    done: list[str] = []
    jobs = [LoopJob(str(number), tally) for number in range(4)]
    try:
        for job in jobs:
            loop.submit(job, lambda ended: done.append(ended.name))
        wait_for(lambda: len(tally["started"]) == 2)
        assert tally["started"] == ["0", "1"]  # the others wait for a slot, in push order
        for job in jobs:
            job.gate.set()
        wait_for(lambda: len(done) == 4)
        assert tally["most"] == 2 and sorted(done) == ["0", "1", "2", "3"]
    finally:
        assert loop.stop(DEADLINE)
    assert threading.current_thread().name != "engine.loop"


def test_a_cancel_reaches_running_jobs_and_abandons_waiting_ones() -> None:
    tally: dict[str, Any] = {"now": 0, "most": 0, "started": []}
    loop = EngineLoop(Monitor(), max_jobs=1)
    loop.start()
    done: list[str] = []
    running, waiting = LoopJob("running", tally), LoopJob("waiting", tally)
    try:
        loop.submit(running, lambda ended: done.append(ended.name))
        loop.submit(waiting, lambda ended: done.append(ended.name))
        wait_for(lambda: tally["started"] == ["running"])
        cancelled = loop.cancel(lambda job: True)
        assert sorted(cancelled) == ["LoopJob(running)", "LoopJob(waiting)"]
        wait_for(lambda: len(done) == 2)
        assert running.cancelled and not running.abandoned
        assert waiting.abandoned and tally["started"] == ["running"]  # it never ran
    finally:
        assert loop.stop(DEADLINE)


def test_the_queue_hands_loop_jobs_to_the_loop_and_waits_for_them() -> None:
    tally: dict[str, Any] = {"now": 0, "most": 0, "started": []}
    loop = EngineLoop(Monitor(), max_jobs=10)
    loop.start()
    queue = JobsQueue(loop)
    queue.register("g")
    job = LoopJob("one", tally)
    try:
        queue.push(job)
        wait_for(lambda: tally["started"] == ["one"])
        assert not queue.is_empty("g")  # in flight for the listener's wait
        assert queue.statistics() == {"enqueued": 0, "busy": 0, "on_loop": 1}
        threading.Timer(0.05, job.gate.set).start()
        queue.wait("g")
        assert queue.is_empty("g") and queue.statistics()["enqueued"] == 0
    finally:
        assert loop.stop(DEADLINE)


def test_a_loop_job_without_a_loop_is_refused_and_not_left_in_flight() -> None:
    queue = JobsQueue()
    queue.register("g")
    with pytest.raises(RuntimeError, match="no loop runs them"):
        queue.push(LoopJob("lonely", {"now": 0, "most": 0, "started": []}))
    assert queue.is_empty("g")


def test_the_shared_lock_keeps_tasks_of_one_loop_apart_across_awaits() -> None:
    lock = SharedLock()
    inside: list[int] = []
    overlaps: list[int] = []

    async def critical(number: int) -> None:
        async with lock:
            if inside:
                overlaps.append(number)
            inside.append(number)
            await asyncio.sleep(0.001)
            inside.remove(number)

    async def main() -> None:
        await asyncio.gather(*(critical(number) for number in range(5)))

    asyncio.run(main())
    assert overlaps == []
    with lock:  # the thread side is a lock of its own
        pass


def test_a_cancel_does_not_wait_for_a_loop_a_task_blocks() -> None:
    loop = EngineLoop(Monitor(), max_jobs=1)
    loop.start()
    release = threading.Event()

    class Blocking(LoopJob):
        async def run_async(self) -> None:
            release.wait(DEADLINE)  # a sync call inside async def: the loop is stuck

    done: list[str] = []
    try:
        loop.submit(Blocking("stuck", {}), lambda ended: done.append(ended.name))
        started = time.monotonic()
        assert loop.cancel() == []  # given up on, not waited for
        assert time.monotonic() - started < DEADLINE
    finally:
        release.set()
        wait_for(lambda: done == ["stuck"])
        assert loop.stop(DEADLINE)


def test_a_cancel_during_an_async_initialized_fails_the_batch_and_runs_no_consume() -> None:
    from engine import Consumer, Messages
    from tests.unit.test_virtual_runtime import Running, keyed

    consumed: list[int] = []
    entered = threading.Event()

    class SlowSetup(Consumer):
        async def initialized(self) -> None:  # type: ignore[override]
            entered.set()
            await asyncio.sleep(DEADLINE * 10)

        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            consumed.extend(message.offset for message in messages)

    loop = EngineLoop(Monitor(), max_jobs=10)
    loop.start()
    running = Running(SlowSetup, concurrency=1, loop=loop, virtual_partitions=None)
    try:
        threading.Thread(target=lambda: (entered.wait(DEADLINE), loop.cancel()),
                         daemon=True).start()
        running.batch(keyed(range(3), keys=3))  # the listener waits: the cancel ends it
        assert consumed == []
        kinds = [event["type"] for name, event in running.events if name == "error.occurred"]
        assert kinds == ["consumer.initialized.error"]
        assert ("t", 0) not in running.client.stored
        state = running.listener.partitions.get(("t", 0)).state
        assert state.paused_until is not None  # retried with back-off
    finally:
        running.close()
        assert loop.stop(DEADLINE)
