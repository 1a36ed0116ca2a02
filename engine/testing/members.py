"""The app's processes in the harness's consumer groups, and who owns which partition.

A process is numbered from 0 (the one ``start()`` runs) and runs one ``Member`` per
subscription group. Joining, leaving and dying rebalance each subscription group's partitions
between the live processes as the app's assignor would (``engine.testing.assignor``): revoked
hooks and a synchronous commit for what a live member gives away, then the new owners fetch
from the group's commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from engine.processing.partitions import PartitionKey
from engine.testing.assignor import Split, is_cooperative, placement, split, strategy_of
from engine.testing.errors import HarnessError

if TYPE_CHECKING:
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.history import History
    from engine.testing.log import Log
    from engine.testing.member import Member

Build = Callable[["SubscriptionGroup", int], "Member"]
"""Builds the member of a subscription group in the process with that number."""


class Members:
    """The live processes (each a ``Member`` per subscription group) and their assignment."""

    def __init__(self, groups: tuple[SubscriptionGroup, ...], build: Build, log: Log) -> None:
        """Nothing runs until ``start``."""
        self._groups = groups
        self._build = build
        self._log = log
        self._processes: dict[int, list[Member]] = {}
        self._next = 0
        for subscription_group in groups:
            try:
                strategy_of(subscription_group.kafka)
            except ValueError as error:
                subject = f"subscription group {subscription_group.id!r}"
                raise HarnessError(f"{subject}: {error}") from None

    @property
    def numbers(self) -> tuple[int, ...]:
        """The live processes' numbers, oldest first."""
        return tuple(self._processes)

    def __iter__(self) -> Iterator[Member]:
        """Every member of every live process."""
        return iter([member for process in self._processes.values() for member in process])

    def partitions(self, subscription_group: SubscriptionGroup) -> list[PartitionKey]:
        """Every partition of the group's topics."""
        return [(name, number) for name in subscription_group.topic_names
                for number in range(self._log.partition_count(name))]

    # -- the whole app -------------------------------------------------------------------------

    def start(self) -> None:
        """One process, owning every partition."""
        self._next = 0
        self._spawn(every=True)

    def stop(self) -> None:
        """Every process stops gracefully."""
        for member in self:
            member.stop()
        self._processes.clear()

    def kill(self) -> None:
        """Every process dies."""
        for member in self:
            member.kill()
        self._processes.clear()

    def rebalance(self) -> None:
        """An eager rebalance: every member revokes everything, then the assignor splits anew."""
        for index in range(len(self._groups)):
            self._rebalance(index, eager=True)

    # -- one process ---------------------------------------------------------------------------

    def join(self) -> int:
        """A new process joins every group (and takes its share); its number."""
        number = self._spawn()
        for index in range(len(self._groups)):
            self._rebalance(index)
        return number

    def leave(self, number: int) -> None:
        """A process stops gracefully (shutdown hooks, final commit); the rest take over."""
        for member in self._gone(number, "leave"):
            member.stop()
        for index in range(len(self._groups)):
            self._rebalance(index)

    def die(self, number: int) -> list[PartitionKey]:
        """A process is killed (no hook, no commit); the rest take over. What it owned."""
        owned = []
        for member in self._gone(number, "crash"):
            owned += list(member.client.positions)
            member.kill()
        for index in range(len(self._groups)):
            self._rebalance(index)
        return owned

    def settle(self) -> None:
        """Every partition nobody owns goes to a member owning fewest (nothing else moves)."""
        for index, subscription_group in enumerate(self._groups):
            members = self._of(index)
            owned = self._owned(members)
            taken = {key for keys in owned.values() for key in keys}
            orphans = [key for key in self.partitions(subscription_group) if key not in taken]
            target = placement(orphans, owned)
            for number, member in members.items():
                member.assign(target[number])

    # -- who owns what -------------------------------------------------------------------------

    def owner(self, index: int, key: PartitionKey) -> Member | None:
        """The member of subscription group ``index`` that owns ``key``, if any."""
        return next((member for member in self._of(index).values()
                     if key in member.client.positions), None)

    def member(self, index: int, number: int | None) -> Member:
        """Subscription group ``index``'s member in process ``number`` (None: the oldest)."""
        members = self._of(index)
        if number is None:
            return next(iter(members.values()))
        self.check(number)
        return members[number]

    def assignment(self, index: int, topic: str) -> dict[int, list[int]]:
        """Process number -> the partitions of ``topic`` it owns in subscription group ``index``."""
        return {number: sorted(partition for name, partition in member.client.positions
                               if name == topic)
                for number, member in self._of(index).items()}

    # -- running -------------------------------------------------------------------------------

    def next_due(self, now: float) -> float | None:
        """When a member next has work: ``now``, a pause's end, or None (all idle)."""
        dues = [due for member in self if (due := member.next_due(now)) is not None]
        return min(dues) if dues else None

    def work(self, history: History) -> list[str]:
        """A line per partition that still holds work."""
        return [line for member in self for line in member.describe_work(history)]

    def passed_over(self, history: History) -> list[str]:
        """A line per partition fetched past failed messages it never retried."""
        return [line for member in self for line in member.describe_passed_over(history)]

    # -- internals -----------------------------------------------------------------------------

    def _spawn(self, *, every: bool = False) -> int:
        """A new process; with ``every``, it owns every partition from the start."""
        number, self._next = self._next, self._next + 1
        self._processes[number] = [
            self._build(subscription_group, number) for subscription_group in self._groups
        ]
        for member in self._processes[number]:
            member.open(self.partitions(member.subscription_group) if every else [])
        return number

    def _gone(self, number: int, verb: str) -> list[Member]:
        self.check(number)
        if len(self._processes) == 1:
            raise HarnessError(f"member {number} is the only one: it cannot {verb} alone"
                               f" ({'stop()' if verb == 'leave' else 'crash()'} does that)")
        return self._processes.pop(number)

    def check(self, number: int) -> None:
        """Raise ``HarnessError`` naming the live members unless ``number`` is one."""
        if number not in self._processes:
            live = ", ".join(map(str, self._processes)) or "none"
            raise HarnessError(f"no member {number!r} in the group (live members: {live})")

    def _of(self, index: int) -> dict[int, Member]:
        return {number: process[index] for number, process in self._processes.items()}

    @staticmethod
    def _owned(members: dict[int, Member]) -> Split:
        return {number: sorted(member.client.positions) for number, member in members.items()}

    def _rebalance(self, index: int, *, eager: bool = False) -> None:
        """Split subscription group ``index`` anew: revoke what moves (eager: all), assign."""
        subscription_group, members = self._groups[index], self._of(index)
        strategy = strategy_of(subscription_group.kafka)
        owned = self._owned(members)
        eager = eager or not is_cooperative(strategy)
        target = split(strategy, self.partitions(subscription_group), list(members),
                       {} if eager else owned)
        for number, member in members.items():
            gone = owned[number] if eager else [k for k in owned[number]
                                                if k not in target[number]]
            if gone:
                member.revoke(gone, lost=False)
        for number, member in members.items():
            member.assign(target[number])
