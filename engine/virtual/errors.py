"""The error a batch fails with when it cannot be split."""

from __future__ import annotations

from engine.errors import EngineError


class SplitError(EngineError):
    """The partitioner raised, or returned an unsupported value, for the message at ``offset``."""

    def __init__(self, offset: int, cause: BaseException) -> None:
        self.offset, self.cause = offset, cause
        super().__init__(f"virtual partitioner failed at offset {offset}: "
                         f"{type(cause).__name__}: {cause}")
