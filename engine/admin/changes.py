"""What an admin operation would do or did to a topic, and a plan made of such changes."""

from __future__ import annotations

from dataclasses import dataclass

from engine.routing.declared_topics import DeclaredTopic


@dataclass(frozen=True)
class CreateTopic:
    """A declared topic the cluster lacks."""

    topic: DeclaredTopic

    def __str__(self) -> str:
        """``orders: create (6 partitions, default replication factor)``."""
        return f"{self.topic.name}: create ({self.topic.config.describe()})"


@dataclass(frozen=True)
class AddPartitions:
    """A topic with fewer partitions than declared (partitions are only ever added)."""

    topic: str
    current: int
    wanted: int

    def __str__(self) -> str:
        """``orders: partitions 3 -> 6``."""
        return f"{self.topic}: partitions {self.current} -> {self.wanted}"


@dataclass(frozen=True)
class SetConfig:
    """A topic config whose value differs from the declared one (None: not set)."""

    topic: str
    key: str
    current: str | None
    wanted: str

    def __str__(self) -> str:
        """``orders: retention.ms 604800000 -> 86400000``."""
        current = "(unset)" if self.current is None else self.current
        return f"{self.topic}: {self.key} {current} -> {self.wanted}"


@dataclass(frozen=True)
class DeleteTopic:
    """A declared topic to delete, with its messages."""

    topic: str

    def __str__(self) -> str:
        """``orders: delete``."""
        return f"{self.topic}: delete"


Change = CreateTopic | AddPartitions | SetConfig | DeleteTopic


@dataclass(frozen=True)
class Plan:
    """The changes that would align the cluster with the declarations.

    ``notices`` say what no operation changes: fewer partitions declared than exist, another
    replication factor.
    """

    changes: tuple[Change, ...]
    notices: tuple[str, ...] = ()
    topics: int = 0

    @property
    def nothing_to_do(self) -> bool:
        """True when the cluster already matches every declared topic."""
        return not self.changes

    def of_kind(self, kind: type[Change]) -> tuple[Change, ...]:
        """The changes of one kind, in plan order."""
        return tuple(change for change in self.changes if isinstance(change, kind))

    def lines(self) -> list[str]:
        """The plan as ``engine topics plan`` prints it."""
        if self.nothing_to_do:
            head = [f"nothing to do: {self.topics} declared topic(s) match the cluster"]
        else:
            head = [str(change) for change in self.changes]
        return head + [f"note: {notice}" for notice in self.notices]
