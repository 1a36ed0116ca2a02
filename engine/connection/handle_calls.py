"""Calls on a consumer handle from other threads, made by the listener's own thread.

The binding serialises every call on one ``confluent_kafka.Consumer``: a worker that stores
an offset while the listener polls waits for that poll, and with polls back to back it may
never get in (measured: 8-20 s and more). So a long-running job never calls the handle: its
calls are queued here and the listener makes them between poll slices.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

CALL_TIMEOUT = 60.0  # seconds a worker waits for the listener to make its call


class _Call:
    __slots__ = ("args", "done", "error", "function", "result")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.function, self.args = function, args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class HandleCalls:
    """A queue of calls the owning (listener) thread runs; other threads wait for theirs."""

    def __init__(self) -> None:
        self._owner: int | None = None
        self._pending: deque[_Call] = deque()
        self._queued = threading.Event()

    def bind(self) -> None:
        """The calling thread owns the handle from now on."""
        self._owner = threading.get_ident()

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``: at once on the owner's thread, else by the owner, waited for."""
        if self._owner is None or threading.get_ident() == self._owner:
            return function(*args)
        queued = _Call(function, args)
        self._pending.append(queued)  # deque.append is atomic: no lock on this path
        self._queued.set()
        if not queued.done.wait(CALL_TIMEOUT):
            raise TimeoutError(f"the listener did not make {function.__name__} within"
                               f" {CALL_TIMEOUT:.0f} s")
        if queued.error is not None:
            raise queued.error
        return queued.result

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Have the owner run ``function(*args)`` soon; do not wait (at once if the owner)."""
        if self._owner is None or threading.get_ident() == self._owner:
            function(*args)
            return
        self._pending.append(_Call(function, args))
        self._queued.set()

    def run_pending(self) -> None:
        """Run every queued call (the owner's thread, between poll slices)."""
        if not self._pending:  # the common case, once per poll slice: no lock taken
            if self._queued.is_set():  # a call already run may have set it: clear for wait
                self._queued.clear()
            return
        self._queued.clear()
        while self._pending:
            queued = self._pending.popleft()
            try:
                queued.result = queued.function(*queued.args)
            except Exception as error:  # noqa: BLE001 - handed back to the waiting thread
                queued.error = error
            queued.done.set()

    def wait_for_calls(self, timeout: float) -> None:
        """Block up to ``timeout`` until a call is queued (the owner, waiting for jobs)."""
        self._queued.wait(timeout)


class RoutedOffsets:
    """A long-running job's offsets port: its calls go through ``HandleCalls``.

    ``assignment_lost`` reads plain fields and is answered at once.
    """

    def __init__(self, client: Any, calls: HandleCalls) -> None:
        self._client = client
        self._calls = calls

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        """Through the listener."""
        return bool(self._calls.call(self._client.store_offset, topic, partition, offset,
                                     metadata))

    def committed(self, topic: str, partition: int) -> tuple[int, str | None] | None:
        """Through the listener."""
        found: tuple[int, str | None] | None = self._calls.call(self._client.committed, topic,
                                                                 partition)
        return found

    def commit(self, sync: bool) -> bool:
        """Through the listener."""
        return bool(self._calls.call(self._client.commit, sync))

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        """Through the listener."""
        return bool(self._calls.call(self._client.seek, topic, partition, offset))

    def assignment_lost(self) -> bool:
        """At once (no handle call)."""
        return bool(self._client.assignment_lost())

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """Through the listener."""
        found = self._calls.call(self._client.high_watermark, topic, partition)
        return None if found is None else int(found)

    def offset_for_time(self, topic: str, partition: int, moment: datetime) -> int:
        """Through the listener."""
        return int(self._calls.call(self._client.offset_for_time, topic, partition, moment))

    def group_metadata(self) -> Any:
        """Through the listener."""
        return self._calls.call(self._client.group_metadata)
