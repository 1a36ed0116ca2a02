"""The testing kit's errors: misuse of the harness, work that never finishes, a bad history."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import EngineError


class HarnessError(EngineError):
    """A harness call that cannot be done: unknown topic, partition out of range, closed."""


class Stuck(EngineError):  # noqa: N818 - the name API.md gives
    """``run()`` used up its polls with partitions still holding work (named in ``partitions``).

    Typically a consumer that always fails, without a dead-letter queue.
    """

    def __init__(self, polls: int, partitions: Sequence[str]) -> None:
        self.polls = polls
        self.partitions = tuple(partitions)
        listed = "\n".join(f"  - {line}" for line in self.partitions)
        super().__init__(
            f"still not idle after {polls} polls; these partitions will never finish:\n{listed}"
        )


class HistoryError(EngineError, AssertionError):
    """The delivery history breaks at-least-once or per-partition order (each violation listed).

    ``violations`` maps each check (``lost``, ``reordered``, ``committed_beyond_processed``)
    to the positions that broke it.
    """

    def __init__(self, violations: dict[str, list[object]]) -> None:
        self.violations = violations
        lines = [f"  {check}: {', '.join(map(str, positions))}"
                 for check, positions in violations.items() if positions]
        super().__init__("the delivery history has violations:\n" + "\n".join(lines))
