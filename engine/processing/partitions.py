"""The partitions one listener serves: each one's state, context, executor and strategy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, ValuesView
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from engine.processing.executor import Executor
    from engine.processing.partition_context import PartitionContext
    from engine.processing.partition_state import PartitionState
    from engine.processing.strategies import DefaultStrategy
    from engine.processing.virtual_batch import VirtualBatch

PartitionKey = tuple[str, int]
"""``(topic, partition)``: how the engine names a partition (not confluent-kafka's class)."""


class Served(NamedTuple):
    """One served partition (built by ``engine.processing.partition_builder``).

    Its state, its consumer's executor, its topic's strategy, and the context the consumer
    and the strategy act through. On a topic with virtual partitions, ``virtual`` runs its
    batches (``executor`` is then virtual partition 0's) and ``context`` is the partition's.
    """

    state: PartitionState
    executor: Executor
    strategy: DefaultStrategy
    context: PartitionContext
    virtual: VirtualBatch | None = None

    def executors(self) -> list[Executor]:
        """Every consumer's executor of the partition (one, or one per virtual partition)."""
        if self.virtual is None:
            return [self.executor]
        return list(self.virtual.executors())


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

    def served(self) -> ValuesView[Served]:
        """Every served partition, as a live view (the owner's thread only; no copy)."""
        return self._served.values()
