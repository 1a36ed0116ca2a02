"""The partitions one listener serves: each one's state, consumer executor and strategy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from engine.processing.executor import Executor
    from engine.processing.partition import Partition
    from engine.processing.strategies import DefaultStrategy

PartitionKey = tuple[str, int]
"""``(topic, partition)``: how the engine names a partition (not confluent-kafka's class)."""


class Served(NamedTuple):
    """One served partition: its state owner, its consumer's executor, its topic's strategy."""

    state: Partition
    executor: Executor
    strategy: DefaultStrategy


class Partitions:
    """A registry keyed by ``(topic, partition)``; entries are built on first use."""

    def __init__(self, build: Callable[[PartitionKey], Served]) -> None:
        self._build = build
        self._served: dict[PartitionKey, Served] = {}

    def get(self, key: PartitionKey) -> Served:
        """The entry of ``key``, built now if the partition was not served yet."""
        served = self._served.get(key)
        if served is None:
            served = self._served[key] = self._build(key)
        return served

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is served now."""
        return key in self._served

    def __iter__(self) -> Iterator[Served]:
        """Every served partition."""
        return iter(list(self._served.values()))

    def __len__(self) -> int:
        """How many partitions are served."""
        return len(self._served)

    def remove(self, keys: Iterable[PartitionKey]) -> list[Served]:
        """Stop serving ``keys``; the entries that were served."""
        return [self._served.pop(key) for key in keys if key in self._served]

    def clear(self) -> list[Served]:
        """Stop serving everything; the entries that were served."""
        served, self._served = list(self._served.values()), {}
        return served

    def resume_due(self, now: float, budget: float) -> float:
        """Resume every partition whose pause is over; ``budget`` cut to the next resume."""
        for served in self._served.values():
            left = served.state.resume_if_due(now)
            if left is not None:
                budget = min(budget, max(0.01, left))
        return budget
