"""The lock the consumer instances of one real partition share (``Consumer.synchronize``)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from engine.errors import EngineError


class SharedLock:
    """One partition's lock, for ``with`` (worker threads) and ``async with`` (the loop).

    Sync consumers' instances run on worker threads and take the thread lock; async ones run
    as tasks on one loop thread, where a thread lock would let every task in (one owner
    thread), so they take the asyncio lock, made on first use.
    """

    __slots__ = ("_async", "_thread")

    def __init__(self) -> None:
        self._thread = threading.RLock()
        self._async: asyncio.Lock | None = None

    def __enter__(self) -> None:
        """Hold the thread lock; refused on an event loop, where it would keep no task out."""
        if asyncio._get_running_loop() is not None:  # the cheap check; public get_ raises
            raise EngineError("an async consumer's instances are tasks of one thread: use"
                              " 'async with self.synchronize():' (a plain 'with' keeps none"
                              " out)")
        self._thread.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Let go of the thread lock."""
        self._thread.release()

    async def __aenter__(self) -> None:
        """Hold the asyncio lock (tasks of the loop wait for each other)."""
        if self._async is None:
            self._async = asyncio.Lock()
        await self._async.acquire()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        """Let go of the asyncio lock."""
        assert self._async is not None
        self._async.release()


class NoLock:
    """``synchronize()`` on an ordinary topic: one instance per partition, nothing to hold."""

    __slots__ = ()

    def __enter__(self) -> None:
        """Nothing to hold."""

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Nothing to let go of."""

    async def __aenter__(self) -> None:
        """Nothing to hold."""

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        """Nothing to let go of."""


NO_LOCK = NoLock()
