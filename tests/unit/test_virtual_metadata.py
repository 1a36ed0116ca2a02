"""The commit-metadata codec: round trips, the budget, and foreign or corrupt metadata."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.virtual.metadata import BUDGET, decode, encode

relative_sets = st.sets(st.integers(1, 40_000), max_size=300)
watermarks = st.integers(0, 2**40)


@given(watermarks, relative_sets, st.integers(20, BUDGET))
def test_decode_restores_what_encode_fit_and_never_exceeds_the_budget(
        watermark: int, relative: set[int], budget: int) -> None:
    completed = {watermark + offset for offset in relative}
    text = encode(watermark, completed, budget)
    if text is not None:
        assert len(text.encode()) <= budget
        assert decode(text, watermark) == completed


def test_a_dense_set_picks_the_bitmap_and_a_long_run_the_run_lengths() -> None:
    every_other = set(range(101, 4001, 2))
    text = encode(100, every_other)
    assert text is not None and text.startswith("vp1b100:")
    run = set(range(101, 1_000_000))
    text = encode(100, run)
    assert text is not None and text.startswith("vp1r100:") and len(text) < 40
    assert decode(text, 100) == run


def test_what_does_not_fit_is_none_so_the_watermark_is_committed_alone() -> None:
    scattered = set(range(1, 10**7, 997))
    assert encode(0, scattered) is None
    assert encode(0, range(1, 30), budget=10) is None
    assert encode(0, range(1, 3), max_offsets=1) is None


def test_an_empty_set_round_trips() -> None:
    text = encode(7, ())
    assert text is not None and decode(text, 7) == set()


def test_bad_input_to_encode_is_named() -> None:
    with pytest.raises(ValueError, match="completed offset 5 is not above the watermark 5"):
        encode(5, {5, 6})
    with pytest.raises(ValueError, match="budget"):
        encode(5, {6}, budget=0)
    with pytest.raises(ValueError, match="watermark must be >= 0"):
        encode(-1, {6})


@pytest.mark.parametrize("metadata", [None, "", "{\"app\": 1}", "vp2b5:AQ:00000000", "vp1",
                                      "vp1b5:AQ:zzzzzzzz", "vp1b5:A:Q:0", "vp1é", 5, b"vp1"])
def test_foreign_metadata_reads_as_none(metadata: object) -> None:
    assert decode(metadata, 5) is None


def test_metadata_committed_with_another_offset_reads_as_none() -> None:
    text = encode(5, {7, 9})
    assert text is not None and decode(text, 5) == {7, 9}
    assert decode(text, 6) is None


@given(watermarks, relative_sets, st.data())
def test_a_corrupted_character_never_raises_nor_reads_as_a_wrong_set(
        watermark: int, relative: set[int], data: st.DataObject) -> None:
    completed = {watermark + offset for offset in relative}
    text = encode(watermark, completed)
    assert text is not None
    at = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != text[at]))
    corrupt = text[:at] + replacement + text[at + 1:]
    assert decode(corrupt, watermark) in (None, completed)
    truncated = text[:data.draw(st.integers(0, len(text) - 1))]
    assert decode(truncated, watermark) is None


@given(st.text(max_size=80))
def test_any_text_decodes_without_raising(text: str) -> None:
    assert decode(text, 0) is None or text.startswith("vp1")
