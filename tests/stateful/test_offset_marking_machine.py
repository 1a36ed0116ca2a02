"""Offset marking against a model: batches of several partitions complete in any order."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine import App, Consumer, Messages
from engine.connection.partition_effects import apply_effects
from engine.messages import Message
from engine.processing.jobs import Consume
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.served import resume_due, served

PARTITIONS = (0, 1, 2)


@dataclass
class Plan:
    """What the consumer does with a batch: mark some messages, then fail at one (or not)."""

    marks: list[int]          # indexes marked, in order
    fail_at: int | None       # index that raises (after the marks before it)


class Scripted(Consumer):
    plan: Plan

    def consume(self, messages: Messages) -> None:
        items: list[Message] = list(messages)
        for index, message in enumerate(items):
            if index == self.plan.fail_at:
                raise RuntimeError(f"fail at {message.offset}")
            if index in self.plan.marks:
                self.mark_as_consumed(message)


class OffsetMarking(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        app = App(kafka=BOOTSTRAP, pause_timeout=1.0, pause_max_timeout=8.0)
        route = app.topic("t", Scripted, manual_offset_management=False)
        self.client = FakeClient()
        self.now = 0.0
        self.served = {p: served(app, route, p, self.client, clock=lambda: self.now)
                       for p in PARTITIONS}
        self.position = {p: 0 for p in PARTITIONS}      # next offset the broker delivers
        self.stored: dict[int, int] = {}                  # model of the stored offsets
        self.in_flight: dict[int, tuple[Messages, Plan]] = {}
        self.paused: set[int] = set()
        self.failures = {p: 0 for p in PARTITIONS}     # failed attempts of the retry under way
        self.failed_through: dict[int, int] = {}         # last offset delivered at that failure
        self.delivered_end = {p: 0 for p in PARTITIONS}
        self.revoked: set[int] = set()

    @rule(partition=st.sampled_from(PARTITIONS), size=st.integers(1, 6), data=st.data())
    def deliver(self, partition: int, size: int, data: st.DataObject) -> None:
        if partition in self.in_flight or partition in self.paused or partition in self.revoked:
            return
        start = self.position[partition]
        raws = [FakeRaw("t", partition, start + i) for i in range(size)]
        marks = sorted(data.draw(st.sets(st.integers(0, size - 1))))
        fail_at = data.draw(st.none() | st.integers(0, size - 1))
        entry = self.served[partition]
        messages = entry.executor.batch(raws, polled_at=0.0)
        assert entry.state.start(messages.metadata.first_offset, messages.metadata.last_offset)
        self.delivered_end[partition] = max(self.delivered_end[partition], start + size)
        self.in_flight[partition] = (messages, Plan(marks, fail_at))

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data())
    def complete_any(self, data: st.DataObject) -> None:
        partition = data.draw(st.sampled_from(sorted(self.in_flight)))
        messages, plan = self.in_flight.pop(partition)
        entry = self.served[partition]
        Scripted.plan = plan
        Consume(entry.executor, "g", entry.strategy, messages).run()
        apply_effects(self.client, entry.state, entry.context.take_effects())
        self._apply_model(partition, messages, plan)

    def _apply_model(self, partition: int, messages: Messages, plan: Plan) -> None:
        offsets = [messages.metadata.first_offset + i for i in range(len(messages))]
        if partition in self.revoked:
            return
        limit = len(offsets) if plan.fail_at is None else plan.fail_at
        for index in plan.marks:
            if index < limit:
                self.stored[partition] = offsets[index] + 1
        if plan.fail_at is None:
            self.stored[partition] = offsets[-1] + 1
            self.position[partition] = offsets[-1] + 1
            # a batch ending before what failed (shorter than the failed one) goes on retrying
            if offsets[-1] >= self.failed_through.get(partition, -1):
                self.failures[partition] = 0
                self.failed_through.pop(partition, None)
        else:
            self.failures[partition] += 1
            self.failed_through[partition] = self.delivered_end[partition] - 1
            restart = max([offsets[i] + 1 for i in plan.marks if i < plan.fail_at],
                          default=offsets[0])
            self.position[partition] = restart
            self.paused.add(partition)

    @precondition(lambda self: bool(self.paused))
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        partition = data.draw(st.sampled_from(sorted(self.paused)))
        self.paused.discard(partition)
        entry = self.served[partition]
        assert entry.state.paused_until is not None
        assert resume_due(entry, self.client, entry.state.paused_until) is None

    @rule(partition=st.sampled_from(PARTITIONS))
    def revoke(self, partition: int) -> None:
        self.served[partition].state.revoke()
        self.revoked.add(partition)

    @invariant()
    def stored_offsets_match_the_model(self) -> None:
        assert {p: o for (_, p), o in self.client.stored.items()} == self.stored

    @invariant()
    def a_failed_partition_is_paused_and_sought_back_to_its_first_unmarked_offset(self) -> None:
        for partition in self.paused:
            assert self.client.positions[("t", partition)] == self.position[partition]
            assert ("t", partition) in self.client.paused
            assert self.served[partition].state.attempt == self.failures[partition]

    @invariant()
    def back_off_doubles_with_each_attempt_up_to_the_cap(self) -> None:
        pauses = {}
        for call in self.client.calls:
            if call[0] == "pause":
                pauses.setdefault(call[2], []).append(call[4])
        for timeouts in pauses.values():
            assert all(t in (1.0, 2.0, 4.0, 8.0) for t in timeouts)


TestOffsetMarking = OffsetMarking.TestCase
TestOffsetMarking.settings = settings(
    max_examples=3 * settings.default.max_examples // 2, stateful_step_count=40, deadline=None)
