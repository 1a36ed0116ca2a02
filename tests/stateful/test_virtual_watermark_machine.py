"""The watermark and its metadata under batches, marks, failed batches and new owners.

A model (the set of real offsets and the processed ones) is compared with ``Watermark``: the
committed offset never passes an unprocessed message, and a new owner that starts from the
committed offset and its decoded metadata skips only processed messages.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.virtual.metadata import decode, encode
from engine.virtual.watermark import Watermark

VIRTUAL = 3


class WatermarkMachine(RuleBasedStateMachine):
    """Offsets with gaps arrive in batches split over virtual partitions; marks in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.marks = Watermark(0)
        self.end = 0                     # the next offset the partition will hold
        self.real: list[int] = []        # offsets that exist (gaps are compacted away)
        self.processed: set[int] = set()
        self.in_flight: dict[int, list[int]] = {}

    @precondition(lambda self: not self.in_flight)
    @rule(steps=st.lists(st.integers(1, 3), min_size=1, max_size=8),
          owners=st.lists(st.integers(0, VIRTUAL - 1), min_size=8, max_size=8))
    def fetch(self, steps: list[int], owners: list[int]) -> None:
        """A batch from the watermark: unprocessed old offsets, then new ones with gaps."""
        retried = [o for o in self.real if o >= self.marks.watermark and o not in self.processed]
        new = []
        for step in steps:
            self.end += step
            new.append(self.end - 1)
        self.real += new
        lists: list[list[int]] = [[] for _ in range(VIRTUAL)]
        for index, offset in enumerate(retried + new):
            lists[owners[index % len(owners)]].append(offset)
        self.marks.deliver(lists, last=self.end - 1)
        self.in_flight = {vp: offsets for vp, offsets in enumerate(lists) if offsets}

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data())
    def mark(self, data: st.DataObject) -> None:
        """A virtual partition marks one of its offsets (and so its earlier ones)."""
        vp = data.draw(st.sampled_from(sorted(self.in_flight)))
        offsets = self.in_flight[vp]
        at = data.draw(st.integers(0, len(offsets) - 1))
        self.marks.mark(offsets[at])
        self.processed |= set(offsets[:at + 1])
        rest = offsets[at + 1:]
        self.in_flight = {**self.in_flight, vp: rest} if rest else {
            k: v for k, v in self.in_flight.items() if k != vp}

    @precondition(lambda self: self.in_flight)
    @rule()
    def fail(self) -> None:
        """The batch fails: what is unprocessed is released, to be fetched again."""
        self.marks.release()
        self.in_flight = {}

    @rule(budget=st.sampled_from([12, 40, 4096]))
    def new_owner(self, budget: int) -> None:
        """A commit, then another owner starts from it (in-flight work is abandoned)."""
        committed = self.marks.watermark
        text = encode(committed, self.marks.completed_above(), budget)
        skipped = decode(text, committed) if text is not None else set()
        assert skipped is not None and skipped <= self.processed
        self.processed = {o for o in self.processed if o < committed} | skipped
        self.marks = Watermark(committed, skipped)
        self.in_flight = {}

    @invariant()
    def never_past_unprocessed_work(self) -> None:
        """Everything below the watermark is processed; what is above is known exactly."""
        watermark = self.marks.watermark
        assert all(o in self.processed for o in self.real if o < watermark)
        assert self.marks.completed_above() == sorted(o for o in self.processed if o > watermark)

    def teardown(self) -> None:
        """Once every batch is processed, the watermark reaches the end."""
        self.marks.release()
        retried = [o for o in self.real if o >= self.marks.watermark and o not in self.processed]
        self.marks.deliver([retried], last=self.end - 1 if self.real else None)
        for offset in retried[-1:]:
            self.marks.mark(offset)
        assert self.marks.watermark == self.end


TestWatermarkMachine = WatermarkMachine.TestCase
TestWatermarkMachine.settings = settings(
    max_examples=2 * settings.default.max_examples, stateful_step_count=30, deadline=None)
