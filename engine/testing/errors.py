"""The testing kit's errors: misuse of the harness, work that never finishes, a bad history."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import EngineError


class HarnessError(EngineError):
    """A harness call that cannot be done: unknown topic, partition out of range, closed."""


class Stuck(EngineError):  # noqa: N818 - the name API.md gives
    """``run()`` cannot finish: partitions hold work it will never do (named in ``partitions``).

    Typically a consumer that always fails, without a dead-letter queue: the polls ran out
    (``passed_over`` False); or nothing is left to fetch but failed messages were passed over
    without being retried, processed or dead-lettered (``passed_over`` True).
    """

    def __init__(self, polls: int, partitions: Sequence[str], *,
                 passed_over: bool = False) -> None:
        self.polls = polls
        self.partitions = tuple(partitions)
        self.passed_over = passed_over
        listed = "\n".join(f"  - {line}" for line in self.partitions)
        why = (f"idle after {polls} polls with failed messages passed over" if passed_over
               else f"still not idle after {polls} polls")
        super().__init__(f"{why}; these partitions will never finish:\n{listed}")


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
