"""The watermark across virtual partitions: examples, and any completion order (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.virtual.watermark import Watermark


def test_marking_marks_the_earlier_offsets_of_its_own_virtual_partition_only() -> None:
    marks = Watermark(10)
    marks.deliver([[10, 12, 14], [11, 13]])
    marks.mark(14)
    assert marks.watermark == 11 and marks.completed_above() == [12, 14]
    marks.mark(11)
    assert marks.watermark == 13 and marks.completed_above() == [14]
    marks.mark(13)
    assert marks.watermark == 15 and marks.completed_above() == [] and marks.in_flight() == 0


def test_gaps_in_a_delivery_are_never_waited_for() -> None:
    marks = Watermark(0)
    marks.deliver([[0, 3], [7]])
    marks.mark(3)
    assert marks.watermark == 7
    marks.mark(7)
    assert marks.watermark == 8


def test_a_released_batch_keeps_the_watermark_and_the_retry_skips_what_was_done() -> None:
    marks = Watermark(0)
    marks.deliver([[0, 1], [2, 3]])
    marks.mark(3)
    marks.release()
    assert marks.watermark == 0 and marks.completed_above() == [2, 3]
    with pytest.raises(ValueError, match="offset 2 is already processed"):
        marks.deliver([[0, 1, 2]])
    marks.deliver([[0], [1, 4]])
    marks.mark(4)
    assert marks.watermark == 0 and marks.completed_above() == [1, 2, 3, 4]
    marks.mark(0)
    assert marks.watermark == 5 and marks.completed_above() == []


def test_a_retry_that_leaves_out_its_processed_tail_names_its_last_offset() -> None:
    marks = Watermark(0)
    marks.deliver([[0], [2, 3]])  # offset 1 was compacted away
    marks.mark(3)
    marks.release()
    marks.deliver([[0]], last=3)
    marks.mark(0)
    assert marks.watermark == 4 and marks.completed_above() == []
    with pytest.raises(ValueError, match="last offset 4 is below the batch's offset 5"):
        marks.deliver([[5]], last=4)


def test_a_new_owner_starts_from_the_metadata_and_steps_over_it() -> None:
    marks = Watermark(5, completed=[6, 7, 9])
    assert marks.watermark == 5 and marks.completed_above() == [6, 7, 9]
    marks.deliver([[5, 8]])
    marks.mark(5)
    assert marks.watermark == 8
    marks.mark(8)
    assert marks.watermark == 10 and marks.completed_above() == []


def test_bad_calls_are_named() -> None:
    marks = Watermark(3)
    with pytest.raises(ValueError, match="offset 2 is below 3"):
        marks.deliver([[2]])
    with pytest.raises(ValueError, match="offset 4 is delivered twice"):
        marks.deliver([[3, 4], [4]])
    with pytest.raises(ValueError, match="offset 5 follows 6: not increasing"):
        Watermark(3).deliver([[6, 5]])
    marks.deliver([[3, 4]])  # the refused deliveries left no trace
    assert marks.watermark == 3 and marks.in_flight() == 2
    with pytest.raises(ValueError, match="offset 4 is below 5"):
        marks.deliver([[4]])
    with pytest.raises(ValueError, match="offset 9 is not in flight"):
        marks.mark(9)
    with pytest.raises(ValueError, match="completed offset 3 is not above position 3"):
        Watermark(3, completed=[3])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, dict[int, list[int]], list[int]]:
    """A start, offsets with gaps dealt to virtual partitions, and an order of marks."""
    start = draw(st.integers(0, 1000))
    steps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=40))
    offsets = [start + sum(steps[:index]) - steps[0] for index in range(1, len(steps) + 1)]
    owners = draw(st.lists(st.integers(0, 3), min_size=len(offsets), max_size=len(offsets)))
    lists: dict[int, list[int]] = {}
    for offset, owner in zip(offsets, owners, strict=True):
        lists.setdefault(owner, []).append(offset)
    return start, lists, draw(st.permutations(offsets))


@given(scenarios())
def test_the_watermark_never_passes_unprocessed_work_and_reaches_the_end(
        scenario: tuple[int, dict[int, list[int]], list[int]]) -> None:
    start, lists, order = scenario
    marks = Watermark(start)
    owner = {offset: vp for vp, offsets in lists.items() for offset in offsets}
    marks.deliver([lists.get(vp, []) for vp in range(4)])
    done: set[int] = set()
    for offset in order:
        marks.mark(offset)
        done |= {o for o in lists[owner[offset]] if o <= offset}
        pending = set(owner) - done
        assert marks.watermark <= min(pending, default=max(owner) + 1)
        assert all(o in done for o in owner if o < marks.watermark)
        assert marks.completed_above() == sorted(o for o in done if o > marks.watermark)
    assert marks.watermark == max(owner) + 1 and marks.completed_above() == []
