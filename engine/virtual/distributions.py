"""Splitting one partition's batch into virtual partitions: ``consistent`` and ``balanced``.

Input: messages of one partition in offset order (objects with ``.offset`` and whatever the
partitioner reads). Output: one list per virtual partition index (some may be empty), each in
the input's order, so messages with one partitioner value keep their order. The partitioner is
called once per message; a raise (or a value the distribution cannot use) becomes one
``SplitError`` naming the offset, so the runtime can fail, report and retry the batch.

- ``consistent``: a value lands in ``stable_index(value)``, in every batch and every process.
  Values must be ones ``stable_hash`` supports.
- ``balanced``: per batch, value groups go largest first (ties: first seen first) to the least
  loaded virtual partition (ties: lowest index); a value is never split. Any hashable value.

Unkeyed messages (value ``None``) are spread evenly: round-robin in ``consistent``, one by one
to the least loaded in ``balanced`` (after the groups).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from engine.virtual.errors import SplitError
from engine.virtual.settings import VirtualPartitions
from engine.virtual.stable_hash import stable_index

# Exact types whose equal values always share one canonical encoding, so a per-batch cache
# keyed by the value is safe (1.0 == 1 and True == 1 would not be: those are never cached).
_CACHED = frozenset({str, bytes, int})


class Offsetted(Protocol):
    """What splitting needs from a message: its offset (the partitioner reads the rest)."""

    @property
    def offset(self) -> int:
        """The message's offset in its partition."""


M = TypeVar("M", bound=Offsetted)
Partitioner = Callable[[Any], Any]


def split(messages: Sequence[M], settings: VirtualPartitions, partitions: int) -> list[list[M]]:
    """Split ``messages`` into ``partitions`` lists by ``settings``' distribution."""
    if settings.distribution == "balanced":
        return balanced(messages, settings.partitioner, partitions)
    return consistent(messages, settings.partitioner, partitions)


def consistent(messages: Sequence[M], partitioner: Partitioner, partitions: int) -> list[list[M]]:
    """Each value to its stable virtual partition; unkeyed messages round-robin."""
    lists: list[list[M]] = [[] for _ in range(partitions)]
    cache: dict[Any, int] = {}
    unkeyed = 0
    for message in messages:
        try:
            value = partitioner(message)
            if value is None:
                index = unkeyed % partitions
                unkeyed += 1
            elif type(value) in _CACHED:
                index = cache.get(value, -1)
                if index < 0:
                    index = cache[value] = stable_index(value, partitions)
            else:
                index = stable_index(value, partitions)
        except Exception as error:
            raise SplitError(message.offset, error) from error
        lists[index].append(message)
    return lists


def balanced(messages: Sequence[M], partitioner: Partitioner, partitions: int) -> list[list[M]]:
    """Largest value group first to the least loaded virtual partition; a value never split."""
    values = _values(messages, partitioner)
    sizes: dict[Any, int] = {}
    unkeyed = 0
    for value in values:
        if value is None:
            unkeyed += 1
        else:
            sizes[value] = sizes.get(value, 0) + 1
    placed, spread = _place(sizes, unkeyed, partitions)
    lists: list[list[M]] = [[] for _ in range(partitions)]
    next_unkeyed = 0
    for message, value in zip(messages, values, strict=True):
        if value is None:
            lists[spread[next_unkeyed]].append(message)
            next_unkeyed += 1
        else:
            lists[placed[value]].append(message)
    return lists


def _values(messages: Sequence[M], partitioner: Partitioner) -> list[Any]:
    """The partitioner's value of each message; a raise or an unhashable value: ``SplitError``."""
    values = []
    for message in messages:
        try:
            value = partitioner(message)
            hash(value)
        except Exception as error:
            raise SplitError(message.offset, error) from error
        values.append(value)
    return values


def _place(sizes: dict[Any, int], unkeyed: int,
           partitions: int) -> tuple[dict[Any, int], list[int]]:
    """Each value's virtual partition, then each unkeyed message's, largest first."""
    loads = [(0, index) for index in range(partitions)]  # a heap: least loaded, lowest index
    placed: dict[Any, int] = {}
    # sorted() is stable and dicts keep first-seen order: equal sizes go first seen first.
    for value in sorted(sizes, key=sizes.__getitem__, reverse=True):
        load, index = heapq.heappop(loads)
        placed[value] = index
        heapq.heappush(loads, (load + sizes[value], index))
    spread = []
    for _ in range(unkeyed):
        load, index = heapq.heappop(loads)
        spread.append(index)
        heapq.heappush(loads, (load + 1, index))
    return placed, spread
