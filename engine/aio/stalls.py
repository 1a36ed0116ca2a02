"""Stalls of the loop: a consumer's coroutine timed step by step, long steps reported.

A step is the run of a coroutine between two of its awaits; the loop runs nothing else
meanwhile. A step longer than the threshold (a sync call inside ``async def``) stalled every
other task on the loop for that long, so it is reported as ``error.occurred`` type
``consumer.loop.blocked``, naming the consumer and the stall. Timing each step costs two
clock reads; a stall that never ends is a stop's business (it cancels at
``shutdown_timeout``).
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

Stalled = Callable[[float], None]
"""Told how many seconds one step took, when over the threshold."""


@types.coroutine
def timed_steps(coroutine: Coroutine[Any, Any, Any], threshold: float, stalled: Stalled
                ) -> Generator[Any, Any, Any]:
    """Await ``coroutine``, calling ``stalled(seconds)`` after each step over ``threshold``.

    Values and exceptions pass through both ways, as ``await`` would pass them (a
    cancellation thrown in reaches the coroutine).
    """
    clock = time.perf_counter
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        started = clock()
        try:
            yielded = coroutine.send(sent) if thrown is None else coroutine.throw(thrown)
        except StopIteration as returned:
            _check(clock() - started, threshold, stalled)
            return returned.value
        except BaseException:
            _check(clock() - started, threshold, stalled)
            raise
        _check(clock() - started, threshold, stalled)
        try:
            sent, thrown = (yield yielded), None
        except BaseException as error:  # noqa: BLE001 - handed to the coroutine, as await does
            sent, thrown = None, error


def _check(took: float, threshold: float, stalled: Stalled) -> None:
    if took > threshold:
        stalled(took)
