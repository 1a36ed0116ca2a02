"""A lifecycle's verbs: each trigger's name, the states it may leave and the one it enters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

S = TypeVar("S", bound=Enum)


@dataclass(frozen=True)
class Verb(Generic[S]):
    """One trigger of a lifecycle machine: from any of ``sources`` it enters ``dest``."""

    name: str
    sources: tuple[S, ...]
    dest: S


def moves(order: Sequence[S], verbs: Sequence[Verb[S]]) -> dict[S, tuple[S, ...]]:
    """For each state, the states its verbs lead to, in the order of ``order``."""
    table: dict[S, tuple[S, ...]] = {}
    for source in order:
        targets = {verb.dest for verb in verbs if source in verb.sources}
        if targets:
            table[source] = tuple(state for state in order if state in targets)
    return table


def checked(order: Sequence[S], verbs: Sequence[Verb[S]]) -> tuple[Verb[S], ...]:
    """``verbs``, after making sure each moves forward and enters a state no other verb enters.

    Forward-only transitions are what make the machine one-way; one verb per entered state is
    what lets a request name the state it wants.
    """
    rank = {state: index for index, state in enumerate(order)}
    for verb in verbs:
        backwards = [s for s in verb.sources if rank[verb.dest] <= rank[s]]
        if backwards:
            raise ValueError(f"{backwards[0].value} -> {verb.dest.value} does not move forward")
    entered = [verb.dest for verb in verbs]
    doubled = [state for state in order if entered.count(state) > 1]
    if doubled:
        raise ValueError(f"more than one verb enters {doubled[0].value}")
    return tuple(verbs)
