"""A ``ConsumerMachine``'s consumer-group faults: partial and lost revokes, members coming, going.

Each rule skips itself where it would change nothing a check sees (no partition to revoke or
give back, no member to add or take away, consumers that have polled nothing yet), so shrunk
schedules hold no no-op steps. The machine's end gives back what a revoke left unassigned
(``kafka.settle()``) before it runs to idle, so ``lost()`` judges every partition.
"""

from __future__ import annotations

from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from engine.testing.machine_host import MachineHost
from engine.testing.schedule import step


class GroupRules(MachineHost):
    """Rules over the machine's topic: ``revoke``/``assign`` of drawn partitions, and members.

    ``revokes`` (True) draws partial revokes, lost or not, and gives partitions back later;
    ``max_members`` (2) is how many processes of the app may be in the group at once (1 leaves
    ``join``, ``leave`` and ``crash(member=)`` out).
    """

    revokes: ClassVar[bool] = True
    max_members: ClassVar[int] = 2

    @precondition(lambda machine: machine.revokes)
    @rule(data=st.data())
    def revoke_some(self, data: st.DataObject) -> None:
        """Revoke a drawn subset of the assigned partitions, lost or not; the rest keep flowing."""
        consumer_group = self._drawn_group(data)
        assignment = self.kafka.assignment(self._machine_topic, consumer_group)
        owned = sorted(p for ps in assignment.values() for p in ps)
        if self._fresh or not owned:
            return
        chosen = data.draw(_subsets(owned), label="partitions")
        lost = data.draw(st.booleans(), label="lost")
        for partition in chosen:
            self._do(step("revoke", self._machine_topic, partition, lost=lost or None,
                          group=consumer_group))

    @precondition(lambda machine: machine.revokes)
    @rule(data=st.data())
    def assign_back(self, data: st.DataObject) -> None:
        """Give a drawn subset of the unassigned partitions to a drawn member."""
        consumer_group = self._drawn_group(data)
        free = self._unassigned(consumer_group)
        if not free:
            return
        chosen = data.draw(_subsets(free), label="partitions")
        members = self.kafka.members
        member = data.draw(st.sampled_from(members), label="member") if len(members) > 1 else None
        for partition in chosen:
            self._do(step("assign", self._machine_topic, partition, group=consumer_group,
                          member=member))

    @precondition(lambda machine: machine.max_members > 1)
    @rule()
    def join(self) -> None:
        """Another process of the app joins the group (while there is room, once polled)."""
        if not self._fresh and len(self.kafka.members) < self.max_members:
            self._do(step("join"))

    @precondition(lambda machine: machine.max_members > 1)
    @rule(data=st.data(), crash=st.booleans())
    def leave(self, data: st.DataObject, crash: bool) -> None:
        """A drawn member leaves gracefully or is killed (while another one remains)."""
        members = self.kafka.members
        if len(members) > 1:
            member = data.draw(st.sampled_from(members), label="member")
            self._do(step("crash" if crash else "leave", member=member))

    def needs_settling(self) -> bool:
        """Whether a partition of a routed topic has no owner in its group (a revoke left it)."""
        for subscription_group in self.kafka.groups:
            for topic in subscription_group.topic_names:
                owned = self.kafka.assignment(topic, subscription_group.consumer_group).values()
                if sum(map(len, owned)) < self.kafka.partition_count(topic):
                    return True
        return False

    def _unassigned(self, consumer_group: str | None) -> list[int]:
        topic = self._machine_topic
        owned = {p for ps in self.kafka.assignment(topic, consumer_group).values() for p in ps}
        return [p for p in range(self.kafka.partition_count(topic)) if p not in owned]

    def _drawn_group(self, data: st.DataObject) -> str | None:
        """The consumer group to act on: None when one group consumes the topic."""
        names = sorted({subscription_group.consumer_group
                        for subscription_group in self.kafka.groups
                        if self._machine_topic in subscription_group.topic_names})
        return data.draw(st.sampled_from(names), label="group") if len(names) > 1 else None


def _subsets(partitions: list[int]) -> st.SearchStrategy[list[int]]:
    return st.lists(st.sampled_from(partitions), min_size=1, unique=True).map(sorted)
