"""Running a blocking call from the loop without stalling it, to its end whatever happens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def off_loop(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` on the loop's default thread pool, awaited to its end.

    A cancellation meanwhile is held back until the call ended (then raised): the call
    settles a batch (a dead-letter send, a retry's pause), and a job that ended before its
    settling would let the listener act on a half-settled partition.
    """
    future = asyncio.get_running_loop().run_in_executor(None, call, *args)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.cancelled():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result
