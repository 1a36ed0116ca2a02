"""The harness's verbs on its consumer groups: who owns what, faults, members coming and going.

``Harness`` checks it is running, then delegates here; docs/guides/testing.md (Faults,
Group faults) says what each verb does. A crash armed at a commit that fires inside a verb
kills the process the verb ran in (``surviving``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from engine.processing.death import ProcessDeath
from engine.testing.errors import HarnessError

if TYPE_CHECKING:
    from engine.consumer import Consumer
    from engine.testing.crash import CrashPlan
    from engine.testing.faults import Faults
    from engine.testing.member import Member
    from engine.testing.members import Members
    from engine.testing.topics import Topics

T = TypeVar("T")

Die = Callable[[int | None], None]
"""Kills a process by number (None: every process); the harness's ``_die``."""


class GroupVerbs:
    """Revoke, assign, lose, rebalance, join, leave, settle and crash, as a test calls them."""

    def __init__(self, topics: Topics, members: Members, faults: Faults, plan: CrashPlan,
                 die: Die) -> None:
        """``die`` is called when a process dies inside a verb."""
        self._topics = topics
        self._members = members
        self._faults = faults
        self._plan = plan
        self._die = die

    # -- who owns what -------------------------------------------------------------------------

    def consumer_for(self, topic: str, partition: int, group: str | None) -> Consumer | None:
        """The owning member's live consumer instance of a partition, if any."""
        owner = self._members.owner(self._topics.index(topic, group), (topic, partition))
        return None if owner is None else owner.consumer_for((topic, partition))

    def assignment(self, topic: str, group: str | None) -> dict[int, list[int]]:
        """Member number -> the partitions of ``topic`` it owns."""
        return self._members.assignment(self._topics.index(topic, group), topic)

    def assigned(self, topic: str, partition: int, group: str | None) -> bool:
        """Whether a member holds the partition (not once ``lose`` gave it away)."""
        index, key = self._topics.index(topic, group), self._topics.key(topic, partition)
        owner = self._members.owner(index, key)
        return owner is not None and owner.client.holds(key)

    # -- partitions ----------------------------------------------------------------------------

    def revoke(self, topic: str, partition: int, lost: bool, group: str | None) -> None:
        """The owner gives the partition up (its hooks run; committed unless ``lost``)."""
        owner = self._owner(topic, partition, group, "revoke")
        self.surviving(lambda: owner.revoke([(topic, partition)], lost), owner.number)

    def assign(self, topic: str, partition: int, group: str | None, member: int | None) -> None:
        """``member`` (else the oldest) takes the partition, fetching from the group's commit.

        One ``lose`` gave away goes back to the member that lost it unless ``member`` names
        another, which takes it once the loser heard it was lost.
        """
        index = self._topics.index(topic, group)
        key = self._topics.key(topic, partition)
        owner = self._members.owner(index, key)
        if owner is not None and not owner.client.holds(key):  # lost, not heard yet
            if member is None or member == owner.number:
                member = owner.number
            else:
                loser = owner
                self.surviving(lambda: loser.revoke([key], lost=True), loser.number)
                owner = None
        target = self._members.member(index, member)
        if owner is not None and owner is not target:
            raise HarnessError(f"{topic}/{partition} is assigned to member {owner.number};"
                               " revoke it first")
        self.surviving(lambda: target.assign([key]), target.number)

    def lose(self, topic: str, partition: int, group: str | None) -> None:
        """The group gives the partition away unheard, to nobody."""
        self._owner(topic, partition, group, "lose").client.lose((topic, partition))

    # -- members -------------------------------------------------------------------------------

    def rebalance(self) -> None:
        """An eager rebalance of every group."""
        self.surviving(self._members.rebalance)

    def join(self) -> int:
        """A new process joins; its number (the newest one's, should the join kill them all)."""
        number = self.surviving(self._members.join)
        return self._members.numbers[-1] if number is None else number

    def leave(self, member: int | None) -> None:
        """A process (the newest by default) stops gracefully."""
        number = self._members.numbers[-1] if member is None else member
        self.surviving(lambda: self._members.leave(number))

    def settle(self) -> None:
        """Unowned partitions go to the members owning fewest."""
        self._members.settle()

    def crash(self, after: int | None, at: str, member: int | None) -> None:
        """Kill ``member`` (None: every process) now, or arm a crash (``Faults.arm_crash``).

        Everything not committed is lost. The process comes back at once with fresh consumers
        (no hook runs) that start from the committed offsets; with other members alive, the
        killed one (``member``, or the one running the job) stays dead and they take over.
        """
        if member is not None and (after is not None or at != "take"):
            raise HarnessError("an armed crash kills the member that reaches it; member= is for"
                               " a crash now")
        if self._faults.arm_crash(self._plan, after, at):
            self._die(member)

    def surviving(self, call: Callable[[], T], member: int | None = None) -> T | None:
        """``call()``'s value; None when a crash armed at a commit in it killed the process.

        ``member`` is the process the call runs in (None: several, so all of them die).
        """
        try:
            return call()
        except ProcessDeath:
            self._die(member)
            return None

    def _owner(self, topic: str, partition: int, group: str | None, call: str) -> Member:
        """The member owning the partition (else a ``HarnessError``: nothing to ``call``)."""
        owner = self._members.owner(self._topics.index(topic, group),
                                    self._topics.key(topic, partition))
        if owner is None:
            raise HarnessError(f"{topic}/{partition} is not assigned; nothing to {call}")
        return owner
