"""Splitting a batch: a stable hash, ``consistent`` and ``balanced``, unkeyed and failing values."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.virtual.distributions import balanced, consistent, split
from engine.virtual.errors import SplitError
from engine.virtual.settings import VirtualPartitions, by_key
from engine.virtual.stable_hash import canonical_bytes, stable_index


@dataclass(frozen=True)
class Note:
    """A message as splitting sees it."""

    offset: int
    key: Any


def batch(keys: list[Any], start: int = 0) -> list[Note]:
    return [Note(start + index, key) for index, key in enumerate(keys)]


# Fixed on purpose: a change of hash or encoding moves keys between consumer instances across
# a deploy, so it must be a deliberate change of this table.
EXPECTED = {
    "order-1": (0, 11), "order-2": (5, 1), "customer-42": (3, 2), "": (5, 11),
    b"\x00\x01": (2, 10), 0: (0, 1), 1: (3, 7), -1: (0, 12), 2**70: (0, 11),
    ("a", 1): (6, 2), (): (5, 8), ("ab", "c"): (1, 10), ("a", "bc"): (5, 1),
}


def test_the_stable_hash_matches_the_fixed_table() -> None:
    assert {key: (stable_index(key, 7), stable_index(key, 16)) for key in EXPECTED} == EXPECTED


def test_the_stable_hash_is_the_same_in_another_process() -> None:
    code = ("from engine.virtual.stable_hash import stable_index as s;"
            "print([s(k, 16) for k in ('order-1', b'x', 7, ('a', None))])")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert runs == {f"{[stable_index(k, 16) for k in ('order-1', b'x', 7, ('a', None))]}\n"}


def test_equal_values_share_an_encoding_and_others_are_refused_by_name() -> None:
    assert canonical_bytes(True) == canonical_bytes(1)
    assert canonical_bytes(bytearray(b"k")) == canonical_bytes(b"k")
    assert canonical_bytes("1") != canonical_bytes(1) != canonical_bytes(b"\x01")
    with pytest.raises(TypeError, match=r"got float: 1\.5"):
        canonical_bytes(1.5)
    with pytest.raises(TypeError, match="got list"):
        canonical_bytes(("a", ["b"]))


values = st.one_of(st.none(), st.integers(-5, 30), st.text(max_size=3), st.binary(max_size=2))


def keys_in(lists: list[list[Note]]) -> list[set[Any]]:
    return [{note.key for note in notes if note.key is not None} for notes in lists]


def assert_a_partition_of(lists: list[list[Note]], notes: list[Note], count: int) -> None:
    assert len(lists) == count
    assert sorted((n for part in lists for n in part), key=lambda n: n.offset) == notes
    for part in lists:
        assert [n.offset for n in part] == sorted(n.offset for n in part)


@given(st.lists(values, max_size=60), st.integers(1, 9))
def test_consistent_puts_a_value_where_its_stable_hash_says_in_order(keys: list[Any],
                                                                     count: int) -> None:
    notes = batch(keys)
    lists = consistent(notes, by_key, count)
    assert_a_partition_of(lists, notes, count)
    for index, part in enumerate(lists):
        assert all(stable_index(n.key, count) == index for n in part if n.key is not None)


@given(st.lists(values, max_size=60), st.integers(1, 9))
def test_balanced_never_splits_a_value_and_loads_stay_within_the_largest_group(
        keys: list[Any], count: int) -> None:
    notes = batch(keys)
    lists = balanced(notes, by_key, count)
    assert_a_partition_of(lists, notes, count)
    seen = keys_in(lists)
    assert all(not (seen[a] & seen[b]) for a in range(count) for b in range(a + 1, count))
    sizes = Counter(keys)
    largest = max([size for key, size in sizes.items() if key is not None] + [1])
    loads = [len(part) for part in lists]
    assert max(loads) - min(loads) <= largest


@given(st.integers(0, 50), st.integers(1, 9), st.sampled_from(["consistent", "balanced"]))
def test_unkeyed_messages_are_spread_evenly(unkeyed: int, count: int, distribution: str) -> None:
    lists = split(batch([None] * unkeyed), VirtualPartitions(distribution=distribution), count)
    loads = [len(part) for part in lists]
    assert max(loads) - min(loads) <= 1


def test_balanced_places_largest_first_and_breaks_ties_by_first_seen_then_lowest_index() -> None:
    lists = balanced(batch(["b", "a", "a", "c", "a", "b", None]), by_key, 3)
    assert [[n.offset for n in part] for part in lists] == [[1, 2, 4], [0, 5], [3, 6]]


@pytest.mark.parametrize("distribution", ["consistent", "balanced"])
def test_a_partitioner_that_raises_fails_the_batch_naming_the_offset(distribution: str) -> None:
    def partitioner(note: Note) -> Any:
        if note.offset == 12:
            raise KeyError("tenant")
        return note.key

    settings = VirtualPartitions(partitioner=partitioner, distribution=distribution)
    with pytest.raises(SplitError, match="at offset 12: KeyError") as raised:
        split(batch(["a", "b", "c"], start=10), settings, 4)
    assert raised.value.offset == 12 and isinstance(raised.value.cause, KeyError)


@pytest.mark.parametrize(("distribution", "value"), [("consistent", 1.5),
                                                     ("balanced", ["unhashable"])])
def test_a_value_the_distribution_cannot_use_fails_naming_the_offset(distribution: str,
                                                                     value: Any) -> None:
    settings = VirtualPartitions(distribution=distribution)
    with pytest.raises(SplitError, match="at offset 1: TypeError"):
        split(batch(["a", value]), settings, 4)
