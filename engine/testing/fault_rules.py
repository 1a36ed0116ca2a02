"""The machine's fault rules beyond SIGKILL; ``ConsumerMachine.faults`` picks them.

Crashes at produce and commit calls, failed produces, a partition lost unheard and given back.

A rule that could not fire (a produce fault for an app that never produced, a lost partition
on consumers that polled nothing) is skipped, so shrunk schedules carry no idle steps.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from engine.testing.machine_host import MachineHost
from engine.testing.schedule import step

FAULTS = ("crash", "crash_at_produce", "crash_at_commit", "fail_produce", "lose")
"""Every fault a machine can draw: SIGKILL at a take (or now), at a produce call, at a commit
call, a failed produce, a partition lost unheard (then given back)."""


def check_faults(machine: str, faults: Any) -> None:
    """A ``TypeError`` naming the culprit unless ``faults`` is a tuple of known names."""
    if not isinstance(faults, (tuple, list, frozenset, set)) or not all(
            isinstance(name, str) for name in faults):
        raise TypeError(f"{machine}.faults must be a tuple of fault names (got {faults!r});"
                        f" choose from {', '.join(map(repr, FAULTS))}")
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise TypeError(f"{machine}.faults: unknown fault(s) {', '.join(map(repr, unknown))};"
                        f" choose from {', '.join(map(repr, FAULTS))}")


class FaultRules(MachineHost):
    """Rules a ``ConsumerMachine`` draws for the faults named in its ``faults``."""

    faults: ClassVar[tuple[str, ...]] = FAULTS
    max_crash_after: ClassVar[int]

    @precondition(lambda machine: "crash_at_produce" in machine.faults)
    @rule(data=st.data())
    def crash_at_produce(self, data: st.DataObject) -> None:
        """Die at a produce call of the app, after some succeed (once it has produced)."""
        self._crash_at("produce", self.kafka.faults.produce_calls, data)

    @precondition(lambda machine: "crash_at_commit" in machine.faults)
    @rule(data=st.data())
    def crash_at_commit(self, data: st.DataObject) -> None:
        """Die at a commit call of the engine's, after some succeed (once it has committed)."""
        self._crash_at("commit", self.kafka.faults.commit_calls, data)

    @precondition(lambda machine: "fail_produce" in machine.faults)
    @rule(data=st.data())
    def fail_produce(self, data: st.DataObject) -> None:
        """The next produce calls fail (refused or timed out), once the app has produced."""
        if not self.kafka.faults.produce_calls:
            return
        times = data.draw(st.integers(1, 3), label="times")
        timeout = data.draw(st.booleans(), label="timeout")
        self._do(step("fail_produce", times, timeout=timeout or None))

    @precondition(lambda machine: "lose" in machine.faults)
    @rule(data=st.data())
    def lose(self, data: st.DataObject) -> None:
        """The group gives a partition away unheard (skipped while the consumers are fresh)."""
        held = self._partitions(assigned=True)
        if self._fresh or not held:
            return
        self._do(step("lose", self._machine_topic, data.draw(st.sampled_from(held),
                                                              label="partition")))

    @precondition(lambda machine: "lose" in machine.faults)
    @rule(data=st.data())
    def regain_lost(self, data: st.DataObject) -> None:
        """A partition given away comes back (skipped while none is away)."""
        away = self._partitions(assigned=False)
        if away:
            self._do(step("assign", self._machine_topic,
                          data.draw(st.sampled_from(away), label="partition")))

    def give_back(self) -> None:
        """Every partition given away comes back (before the machine's end)."""
        if self.kafka.state == "running":
            for partition in self._partitions(assigned=False):
                self._do(step("assign", self._machine_topic, partition))

    def _crash_at(self, at: str, calls: int, data: st.DataObject) -> None:
        if not calls or self.kafka.faults.crash_armed is not None:
            return  # the app never makes the call, or a crash already waits for one
        after = data.draw(st.integers(0, self.max_crash_after), label="after")
        self._do(step("crash", after=after or None, at=at))

    def _partitions(self, *, assigned: bool) -> list[int]:
        kafka, topic = self.kafka, self._machine_topic
        return [partition for partition in range(kafka.partition_count(topic))
                if kafka.assigned(topic, partition) == assigned]
