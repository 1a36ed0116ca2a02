"""``VirtualPartitions``: how one topic's batches are split, and the rules its options follow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import RoutingError

DISTRIBUTIONS = ("consistent", "balanced")


def by_key(message: Any) -> Any:
    """The default partitioner: the message's key (None for an unkeyed message)."""
    return message.key


@dataclass(frozen=True)
class VirtualPartitions:
    """A topic's virtual partitions; ``max_partitions=None`` means the app's concurrency."""

    partitioner: Callable[[Any], Any] = by_key
    max_partitions: int | None = None
    distribution: str = "consistent"

    def problems(self) -> list[str]:
        """Every problem with these settings, each naming its culprit (empty when valid)."""
        problems = []
        partitioner: object = self.partitioner  # typed callable, but any value may come in
        if not callable(partitioner):
            problems.append(f"virtual_partitions partitioner must be callable "
                            f"(got {self.partitioner!r})")
        limit = self.max_partitions
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            problems.append(f"virtual_partitions max_partitions must be an int >= 1 "
                            f"(got {limit!r})")
        if self.distribution not in DISTRIBUTIONS:
            problems.append(f"virtual_partitions distribution must be one of "
                            f"{', '.join(map(repr, DISTRIBUTIONS))} (got {self.distribution!r})")
        return problems

    def validated(self, topic: str) -> VirtualPartitions:
        """Return these settings, or raise ``RoutingError`` naming ``topic`` and each problem."""
        problems = self.problems()
        if problems:
            raise RoutingError(f"topic {topic!r}: " + "; ".join(problems))
        return self

    def partitions(self, concurrency: int) -> int:
        """The number of virtual partitions, given the app's resolved ``concurrency``."""
        if self.max_partitions is not None:
            return self.max_partitions
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1 (got {concurrency!r})")
        return concurrency
