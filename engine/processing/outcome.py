"""What running a consumer's hook came to: it returned, or it failed with an error."""

from __future__ import annotations

from typing import Any


class Outcome:
    """The result of one hook run; ``error`` is None when the hook returned.

    ``consumer`` is the instance that ran (None when it could not even be built): events about
    what follows (a retry, a dead-letter dispatch) name it as their sender. ``attempt``,
    ``time`` (seconds ``consume`` took) and ``unmarked_before`` (the partition's first unmarked
    offset as the batch began) are what ``consumer.consumed`` reports from afterwards.
    """

    __slots__ = ("attempt", "consumer", "error", "time", "unmarked_before")

    def __init__(self, consumer: Any, error: BaseException | None = None, attempt: int = 0,
                 time: float = 0.0, unmarked_before: int | None = None) -> None:
        self.consumer = consumer
        self.error = error
        self.attempt = attempt
        self.time = time
        self.unmarked_before = unmarked_before

    def __repr__(self) -> str:
        """ok, or the error."""
        return "Outcome(ok)" if self.error is None else f"Outcome(failed: {self.error!r})"
