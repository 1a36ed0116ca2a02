"""An async consumer's long-running job taken away: cancelled (a lost partition at once, a
revoked one past ``shutdown_timeout``), then its hook runs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

from engine import Consumer, Messages
from engine.aio.loop import EngineLoop
from engine.instrumentation.monitor import Monitor
from tests.unit.test_virtual_long_jobs import iterate_until
from tests.unit.test_virtual_runtime import DEADLINE, Running, keyed


class Waiting(Consumer):
    """Awaits an answer that never comes; records its cancellation and its revoked hook."""

    story: ClassVar[list[str]] = []
    entered = threading.Event()

    async def consume(self, messages: Messages) -> None:  # type: ignore[override]
        Waiting.entered.set()
        try:
            await asyncio.sleep(DEADLINE * 10)
        except asyncio.CancelledError:
            Waiting.story.append("cancelled")
            raise
        Waiting.story.append("returned")

    async def revoked(self) -> None:  # type: ignore[override]
        Waiting.story.append(f"revoked (is_revoked={self.is_revoked})")


@contextlib.contextmanager
def waiting_job(now: list[float]) -> Iterator[Running]:
    """A listener whose partition t/0 runs a ``Waiting`` long job on an event loop."""
    Waiting.story, Waiting.entered = [], threading.Event()
    loop = EngineLoop(Monitor(), max_jobs=10)
    loop.start()
    running = Running(Waiting, concurrency=1, loop=loop, long_running_job=True,
                      virtual_partitions=None, clock=lambda: now[0], shutdown_timeout=30.0)
    running.listener.open()
    try:
        running.client.rebalance.assigned([("t", 0)])
        running.client.rebalance.take()
        running.batch(keyed(range(5), keys=5))
        iterate_until(running, Waiting.entered.is_set, "the job running on the loop")
        yield running
        iterate_until(running, lambda: len(Waiting.story) == 2, "the cancel, then the hook")
        assert Waiting.story == ["cancelled", "revoked (is_revoked=True)"]
        assert ("t", 0) not in running.client.stored  # nothing of it marked
    finally:
        running.close()
        assert loop.stop(DEADLINE)


def test_a_lost_partitions_async_long_job_is_cancelled_then_hears_revoked() -> None:
    with waiting_job([0.0]) as running:
        running.client.rebalance.revoked([("t", 0)], lost=True)
        running.listener.iterate()  # the poll reports the loss: the task is cancelled


def test_a_revoked_partitions_async_long_job_runs_its_grace_then_is_cancelled() -> None:
    now = [0.0]
    with waiting_job(now) as running:
        now[0] = 100.0
        running.client.rebalance.revoked([("t", 0)], lost=False)
        running.listener.iterate()  # revoked: the job may still finish, for 30 s
        now[0] = 129.9
        running.listener.iterate()
        assert Waiting.story == []
        now[0] = 130.0


def test_a_partition_revoked_while_quiet_has_its_async_long_job_cancelled_past_its_grace(
) -> None:
    Waiting.story, Waiting.entered = [], threading.Event()
    now = [0.0]
    loop = EngineLoop(Monitor(), max_jobs=10)
    loop.start()
    running = Running(Waiting, concurrency=1, loop=loop, long_running_job=True,
                      virtual_partitions=None, clock=lambda: now[0], shutdown_timeout=2.0)
    running.listener.open()
    quiet = threading.Thread(target=running.listener.serve_while_quiet, daemon=True)
    try:
        running.client.rebalance.assigned([("t", 0)])
        running.client.rebalance.take()
        running.batch(keyed(range(5), keys=5))
        iterate_until(running, Waiting.entered.is_set, "the job running on the loop")
        running.listener.quiet_down()  # waits its (short) share for the job, which runs on
        quiet.start()  # quiet: in the group, serving rebalances
        running.client.rebalance.revoked([("t", 0)], lost=False)
        deadline = time.monotonic() + DEADLINE
        while not Waiting.story and time.monotonic() < deadline:
            now[0] += 1.0  # past the grace of 2 s on the listener's clock
            time.sleep(0.01)
        assert Waiting.story == ["cancelled"]  # while quiet
        running.listener.stop()
        quiet.join(DEADLINE)
        running.listener.shut_down()
        assert Waiting.story == ["cancelled", "revoked (is_revoked=True)"]  # by the stop
    finally:
        running.listener.stop()
        quiet.join(DEADLINE)
        running.close()
        assert loop.stop(DEADLINE)
