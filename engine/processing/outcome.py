"""What running a consumer's hook came to: it returned, or it failed with an error."""

from __future__ import annotations

from typing import Any


class Outcome:
    """The result of one hook run; ``error`` is None when the hook returned.

    ``consumer`` is the instance that ran (None when it could not even be built): events about
    what follows (a retry, a dead-letter dispatch) name it as their sender.
    """

    __slots__ = ("consumer", "error")

    def __init__(self, consumer: Any, error: BaseException | None = None) -> None:
        self.consumer = consumer
        self.error = error

    @property
    def ok(self) -> bool:
        """Whether the hook returned."""
        return self.error is None

    def __repr__(self) -> str:
        """ok, or the error."""
        return "Outcome(ok)" if self.error is None else f"Outcome(failed: {self.error!r})"
