"""The harness's running: one fetch-loop iteration of every member, and polling until idle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.processing.death import ProcessDeath
from engine.testing.errors import HarnessError, Stuck

if TYPE_CHECKING:
    from engine.messages import Messages
    from engine.testing.clock import VirtualClock
    from engine.testing.group_verbs import Die
    from engine.testing.history import History
    from engine.testing.members import Members


class Polling:
    """Polls the live members on the calling thread; a process that dies in a poll dies here."""

    def __init__(self, members: Members, clock: VirtualClock, history: History,
                 die: Die) -> None:
        """``die`` is called with the number of a process that died in its poll."""
        self._members = members
        self._clock = clock
        self._history = history
        self._die = die

    def poll(self, limit: int | None) -> list[Messages]:
        """One iteration of every member; the batches it ran (a death ends the round).

        ``limit`` caps what each group's poll fetches (never more than ``max_messages``).
        """
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise HarnessError(f"poll(limit=...) takes an integer >= 1 or None (got {limit!r})")
        ran: list[Messages] = []
        for member in self._members:
            try:
                ran += member.poll(limit)
            except ProcessDeath:
                ran += member.queue.take_batches()
                self._die(member.number)
                break
        return ran

    def run(self, max_polls: int) -> int:
        """Poll until idle, jumping the clock to each pause's end; the number of polls.

        Raises ``Stuck`` naming the partitions still holding work after ``max_polls`` polls,
        or once idle if failed messages were passed over (it never returns with work left).
        """
        polls = 0
        while True:
            due = self._members.next_due(self._clock.now())
            if due is None:
                passed_over = self._members.passed_over(self._history)
                if passed_over:
                    raise Stuck(polls, passed_over, passed_over=True)
                return polls
            if polls >= max_polls:
                raise Stuck(polls, self._members.work(self._history))
            self._clock.advance_to(due)
            self.poll(None)
            polls += 1
