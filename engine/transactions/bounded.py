"""Calls that never keep their caller past a bound, even when librdkafka ignores its timeout.

librdkafka can block in ``send_offsets_to_transaction`` for ever while a broker restarts
(librdkafka issues 5456 and 5511): the call runs on a daemon thread joined with a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from engine.errors import TransactionError

T = TypeVar("T")


class OverdueError(TransactionError):
    """A transactional call did not return within its bound (the producer is then broken)."""


def bounded(name: str, call: Callable[[], T], timeout: float) -> T:
    """``call()``'s result or exception, or ``OverdueError`` after ``timeout`` seconds."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            failure.append(error)

    thread = threading.Thread(target=run, name=f"engine-txn-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise OverdueError(f"{name} did not return within {timeout}s (the producer is dropped)")
    if failure:
        raise failure[0]
    return result[0]
