"""How the harness's consumer group splits partitions between members, as librdkafka's assignors.

The app's ``partition.assignment.strategy`` picks the model (librdkafka's default,
``range,roundrobin``, is ``range``: the group uses the first strategy every member supports,
and the members of one app share it):

- ``range`` (eager): per topic, each member in turn takes a contiguous run of partitions, the
  first ones one more when they do not divide evenly.
- ``roundrobin`` (eager): every partition of every topic, in order, dealt in turn.
- ``cooperative-sticky`` (cooperative): each member keeps what it owns up to its fair share
  (the members owning most get the larger shares), the rest goes to the members below theirs.

An eager group revokes every partition from every member before it assigns the new split; a
cooperative one revokes only the partitions that move. Members are ordered by when they joined
(a broker orders them by member id, which is random: a real split may pair them the other way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.processing.partitions import PartitionKey

Split = dict[int, list[PartitionKey]]
"""Member number -> the partitions it owns, in order."""

_STRATEGIES = ("range", "roundrobin", "cooperative-sticky")


def strategy_of(kafka: Mapping[str, Any]) -> str:
    """The assignor a group of this app uses (the first of ``partition.assignment.strategy``)."""
    listed = str(kafka.get("partition.assignment.strategy", "range,roundrobin"))
    first = listed.split(",", maxsplit=1)[0].strip()
    if first not in _STRATEGIES:
        raise ValueError(f"partition.assignment.strategy {listed!r}: the harness models"
                         f" {', '.join(_STRATEGIES)}")
    return first


def is_cooperative(strategy: str) -> bool:
    """Whether only moved partitions are revoked (else every member revokes everything)."""
    return strategy == "cooperative-sticky"


def split(strategy: str, partitions: Sequence[PartitionKey], members: Sequence[int],
          owned: Split) -> Split:
    """Who owns what after a rebalance of ``members`` over ``partitions``.

    ``owned`` is the current ownership (only the sticky assignor reads it).
    """
    if not members:
        return {}
    if strategy == "range":
        return _range(partitions, members)
    if strategy == "roundrobin":
        return _round_robin(sorted(partitions), members)
    return _sticky(sorted(partitions), members, owned)


def _range(partitions: Sequence[PartitionKey], members: Sequence[int]) -> Split:
    result: Split = {member: [] for member in members}
    for topic in dict.fromkeys(key[0] for key in partitions):
        keys = sorted(key for key in partitions if key[0] == topic)
        each, extra = divmod(len(keys), len(members))
        start = 0
        for index, member in enumerate(members):
            size = each + (1 if index < extra else 0)
            result[member] += keys[start:start + size]
            start += size
    return result


def _round_robin(partitions: Sequence[PartitionKey], members: Sequence[int]) -> Split:
    result: Split = {member: [] for member in members}
    for index, key in enumerate(partitions):
        result[members[index % len(members)]].append(key)
    return result


def _sticky(partitions: Sequence[PartitionKey], members: Sequence[int], owned: Split) -> Split:
    wanted = set(partitions)
    kept = {member: [key for key in owned.get(member, []) if key in wanted] for member in members}
    # the members owning most get the larger shares: fewer partitions move
    by_size = sorted(members, key=lambda member: -len(kept[member]))
    each, extra = divmod(len(partitions), len(members))
    share = {member: each + (1 if rank < extra else 0) for rank, member in enumerate(by_size)}
    result: Split = {member: kept[member][:share[member]] for member in members}
    taken = {key for keys in result.values() for key in keys}
    free = [key for key in partitions if key not in taken]
    for member in members:
        while len(result[member]) < share[member] and free:
            result[member].append(free.pop(0))
    return {member: sorted(keys) for member, keys in result.items()}


def placement(orphans: Sequence[PartitionKey], owned: Split) -> Split:
    """Where partitions nobody owns go, nothing else moving: each to a member owning fewest."""
    result: Split = {member: list(keys) for member, keys in owned.items()}
    for key in sorted(orphans):
        member = min(result, key=lambda number: (len(result[number]), number))
        result[member].append(key)
    return result
