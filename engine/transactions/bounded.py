"""Calls that never keep their caller past a bound, even when librdkafka ignores its timeout.

librdkafka can block in ``send_offsets_to_transaction`` for ever while a broker restarts
(librdkafka issues 5456 and 5511). So a producer's transactional calls are made by a thread
of its own (``CallThread``) and waited for with a timeout: past it, the caller goes on and
the producer is dropped with its thread, which ends once the call returns, if it ever does.
A thread per producer, not per call: starting a thread cost about 0.6 ms a call (measured),
a tenth of a transaction's time, where handing a call over costs about 0.01 ms.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from engine.errors import TransactionError

T = TypeVar("T")


class OverdueError(TransactionError):
    """A transactional call did not return within its bound (the producer is then broken)."""


class ClosedError(TransactionError):
    """A call handed to a producer already closed (its partition was revoked meanwhile)."""


class _Call(Generic[T]):
    """One call handed to a ``CallThread``, and what it returned or raised."""

    __slots__ = ("done", "error", "function", "result")

    def __init__(self, function: Callable[[], T]) -> None:
        self.function = function
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.function()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            self.error = error
        self.done.set()


class CallThread:
    """A daemon thread that makes one producer's calls in turn, each waited for, bounded."""

    __slots__ = ("_calls", "_lock", "_name", "_stopped", "_thread")

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._name = name
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def call(self, name: str, function: Callable[[], T], timeout: float) -> T:
        """``function()``'s result or exception, or ``OverdueError`` after ``timeout`` s.

        ``ClosedError`` at once once stopped: no thread is left to make the call.
        """
        handed: _Call[T] = _Call(function)
        with self._lock:  # a call is never queued behind the stop, where nothing serves it
            if self._stopped:
                raise ClosedError(f"{name} on {self._name}, already closed")
            self._calls.put(handed)
        if not handed.done.wait(timeout):
            raise OverdueError(f"{name} did not return within {timeout}s"
                               " (the producer is dropped)")
        if handed.error is not None:
            raise handed.error
        return handed.result  # type: ignore[return-value]

    def stop(self) -> None:
        """End the thread after the calls handed over (a hung one keeps it, harmlessly)."""
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self._calls.put(None)

    def _serve(self) -> None:
        while (handed := self._calls.get()) is not None:
            handed.run()

