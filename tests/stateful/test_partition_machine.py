"""``Partition`` under faults: a model of one partition's log, fetch position and pauses.

The consumer fails the ways real code fails (its constructor raising, pause then raise, seek
then raise, a ``BaseException``), seeks fail, stale fetches arrive while paused, offsets have
gaps, and the partition is revoked and assigned back during a back-off. Invariants: the stored
offset never passes an unprocessed message; a paused partition has a reason and a resume time;
the client never holds a pause nobody will lift; and at the end every message is processed.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine import App, Consumer, Messages
from engine.processing.partitions import Served
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.served import resume_due, run_batch, served

KEY = ("t", 0)
KINDS = ("ok", "raise", "pause_raise", "seek_raise", "base_exception", "pause_ok")


@dataclass
class Plan:
    """What the consumer does with the next batch."""

    kind: str
    at: int          # index of the message that fails (clamped to the batch)
    marks: bool      # whether messages are marked one by one before that


class Scripted(Consumer):
    """Follows ``Scripted.plan``; its constructor raises while ``Scripted.broken`` is set."""

    plan: typing.ClassVar[Plan] = Plan("ok", 0, False)
    processed: typing.ClassVar[set[int]] = set()
    broken: typing.ClassVar[int] = 0

    def __init__(self) -> None:
        if Scripted.broken:
            Scripted.broken -= 1
            raise ConnectionError("not reachable yet")

    def consume(self, messages: Messages) -> None:
        plan = Scripted.plan
        items = list(messages)
        if plan.kind in ("pause_raise", "pause_ok"):
            self.pause(timeout=0.5)
        if plan.kind == "seek_raise":
            self.seek(items[0].offset)
        stop = len(items) if plan.kind in ("ok", "pause_ok") else min(plan.at, len(items) - 1)
        for message in items[:stop]:
            Scripted.processed.add(message.offset)
            if plan.marks:
                self.mark_as_consumed(message)
        if plan.kind == "base_exception":
            raise SystemExit(1)
        if stop < len(items):
            raise RuntimeError(f"fails at {items[stop].offset}")


class PartitionUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = App(kafka=BOOTSTRAP, pause_timeout=1.0, pause_max_timeout=4.0)
        self.route = self.app.topic("t", Scripted)
        self.client = FakeClient()
        self.now = 0.0
        self.log: list[int] = []
        self.fetch_at = 0
        self.entry: Served = self._assign()
        Scripted.processed, Scripted.broken = set(), 0

    @initialize(offsets=st.sets(st.integers(0, 40), min_size=1, max_size=25))
    def write_log(self, offsets: set[int]) -> None:
        self.log = sorted(offsets)  # missing offsets: transaction markers, compaction

    def _assign(self) -> Served:
        return served(self.app, self.route, 0, self.client, clock=lambda: self.now)

    def _follow_seeks(self, since: int) -> None:
        for call in self.client.calls[since:]:
            if call[0] == "seek":
                self.fetch_at = call[3]

    def _fetch(self, size: int) -> list[FakeRaw]:
        return [FakeRaw("t", 0, o) for o in self.log if o >= self.fetch_at][:size]

    @rule(size=st.integers(1, 6), kind=st.sampled_from(KINDS), at=st.integers(0, 5),
          marks=st.booleans())
    def poll(self, size: int, kind: str, at: int, marks: bool) -> None:
        if KEY in self.client.paused:
            return  # librdkafka fetches nothing for a paused partition
        batch = self._fetch(size)
        if not batch:
            return
        Scripted.plan = Plan(kind, at, marks)
        since = len(self.client.calls)
        self.fetch_at = batch[-1].offset() + 1  # the fetch position moved past the batch
        assert run_batch(self.entry, list(batch), polled_at=self.now, client=self.client)
        self._follow_seeks(since)

    @rule(size=st.integers(1, 6))
    def stale_fetch_while_paused(self, size: int) -> None:
        """Messages fetched before the pause still come out of the queue: never processed."""
        if self.entry.state.paused_until is None:
            return
        batch = self._fetch(size)
        if batch:
            processed = set(Scripted.processed)
            assert not run_batch(self.entry, list(batch), polled_at=self.now, client=self.client)
            assert Scripted.processed == processed

    @rule(seconds=st.floats(0.0, 5.0))
    def advance_clock_and_resume_what_is_due(self, seconds: float) -> None:
        self.now += seconds
        since = len(self.client.calls)
        resume_due(self.entry, self.client, self.now)
        self._follow_seeks(since)

    @rule(count=st.integers(1, 2))
    def seeks_fail(self, count: int) -> None:
        self.client.fail_seeks += count

    @rule(broken=st.integers(1, 2))
    def revoke_and_assign_back(self, broken: int) -> None:
        """The group takes the partition away (committing what was stored) and gives it back."""
        self.entry.state.revoke()
        self.client.paused.discard(KEY)  # the client resumes what it is assigned
        self.fetch_at = self.client.stored.get(KEY, 0)
        self.entry = self._assign()
        Scripted.broken = broken  # the new consumer's constructor fails at first

    @invariant()
    def the_stored_offset_never_passes_an_unprocessed_message(self) -> None:
        stored = self.client.stored.get(KEY, 0)
        skipped = [o for o in self.log if o < stored and o not in Scripted.processed]
        assert skipped == [], f"stored {stored} passes unprocessed {skipped}"

    @invariant()
    def a_pause_has_a_reason_and_an_end(self) -> None:
        state = self.entry.state
        if state.paused_until is not None:
            assert state.pause_is_manual or state.resume_offset is not None
        if KEY in self.client.paused:  # nobody else would ever lift a client-side pause
            assert state.paused_until is not None

    def teardown(self) -> None:
        """Healthy from now on: everything is eventually processed."""
        self.client.fail_seeks = 0
        Scripted.broken = 0
        for _ in range(200):
            if self.entry.state.paused_until is not None:
                self.now = max(self.now, self.entry.state.paused_until)
            self.advance_clock_and_resume_what_is_due(0.0)
            self.poll(6, "ok", 0, False)
            if self.fetch_at > self.log[-1] and self.entry.state.paused_until is None:
                break
        missing = [o for o in self.log if o not in Scripted.processed]
        assert missing == [], f"never processed: {missing}"


TestPartitionUnderFaults = PartitionUnderFaults.TestCase
TestPartitionUnderFaults.settings = settings(
    max_examples=2 * settings.default.max_examples, stateful_step_count=40, deadline=None)
