"""How much shrinking a ``ConsumerMachine`` failure gets: a budget of examples per test run.

hypothesis shrinks until nothing improves (up to 500 successful shrinks or five minutes), and
offers no setting to stop sooner. A machine example costs a whole schedule on a harness, so
a first failure found in a second could take minutes to report. The budget counts the examples
run after a run's first failure; past it, examples end before they start, which hypothesis'
shrinker takes as no progress and soon stops (it gives up after 200 calls that shrink nothing),
reporting the smallest failure found so far. The final replay of that failure always runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument


@dataclass
class _Run:
    failed: bool = False
    examples_after: int = 0


class ShrinkBudget:
    """Per machine class: has this run failed yet, and how many examples ran since."""

    def __init__(self) -> None:
        """No run has failed yet."""
        self._runs: dict[type, _Run] = {}

    def begin(self, machine: type, limit: int, *, final: bool) -> bool:
        """An example starts: True if it runs for real, False if it is past the budget.

        The final replay of the failure to report runs, and ends the run's count. At least
        one example after the first failure always runs: hypothesis replays the failure once
        before shrinking and would call a pass there flaky.
        """
        if final:
            self._runs.pop(machine, None)
            return True
        run = self._runs.get(machine)
        if run is None or not run.failed:
            return True
        run.examples_after += 1
        return run.examples_after <= max(limit, 1)

    def failed(self, machine: type) -> bool:
        """An example failed: True if it is the run's first failure."""
        run = self._runs.setdefault(machine, _Run())
        first, run.failed = not run.failed, True
        return first

    def examples_after_failure(self, machine: type) -> int:
        """Examples started since the run's first failure (0 before one)."""
        run = self._runs.get(machine)
        return run.examples_after if run is not None else 0


BUDGET = ShrinkBudget()


def is_final() -> bool:
    """True for hypothesis' final replay of a failure, and outside hypothesis."""
    try:
        return current_build_context().is_final
    except InvalidArgument:
        return True


def give_up() -> NoReturn:
    """End this example before it draws anything, as one hypothesis cannot use.

    An overrun (the example "ran out of data") is the one ending hypothesis does not hold
    against the same choices later, so the shrinker only sees a candidate that did not fail;
    failing or passing instead would contradict what those choices did before (flaky).
    Call it only when ``can_give_up()``.
    """
    current_build_context().data.mark_overrun()
    raise AssertionError("mark_overrun ends the example")  # never reached


def can_give_up() -> bool:
    """Whether this hypothesis can end an example before it starts (what the budget needs).

    ``mark_overrun`` is hypothesis' own (checked on 6.170): a version without it shrinks
    without a budget rather than failing.
    """
    try:
        data = getattr(current_build_context(), "data", None)
    except InvalidArgument:
        return False
    return callable(getattr(data, "mark_overrun", None))
