"""The harness's event loop: async consumers' jobs run on it, one at a time, to their end."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class HarnessLoop:
    """One asyncio loop per harness, made on first use and run on the caller's thread.

    Each job runs to its end before the next one starts (``run_until_complete``), so a run
    is as deterministic as the consumers' own code; a consumer's loop-bound clients (made in
    ``initialized``) live across batches and restarts of the harness, as on the app's loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, job: Coroutine[Any, Any, None]) -> None:
        """Run ``job`` to its end (a ``ProcessDeath`` inside goes through)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(job)

    def close(self) -> None:
        """Cancel what is left (a delivery pump, a consumer's own task) and close the loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.close()
