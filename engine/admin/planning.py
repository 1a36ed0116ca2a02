"""Comparing declared topics with what the cluster holds: the plan, as a pure function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.admin.changes import AddPartitions, Change, CreateTopic, Plan, SetConfig
from engine.routing.declared_topics import DeclaredTopic


@dataclass(frozen=True)
class Observed:
    """One topic as the cluster describes it."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


def plan_for(declared: Sequence[DeclaredTopic], observed: Mapping[str, Observed | None]) -> Plan:
    """Create what is missing, add partitions, set drifted configs; note what never changes."""
    changes: list[Change] = []
    notices: list[str] = []
    for topic in declared:
        found = observed.get(topic.name)
        if found is None:
            changes.append(CreateTopic(topic))
            continue
        wanted = topic.config
        if wanted.partitions is not None and found.partitions < wanted.partitions:
            changes.append(AddPartitions(topic.name, found.partitions, wanted.partitions))
        elif wanted.partitions is not None and found.partitions > wanted.partitions:
            notices.append(f"{topic.name}: has {found.partitions} partitions, declares"
                           f" {wanted.partitions} (partitions are never removed)")
        replicas = wanted.replication_factor
        if replicas is not None and found.replication_factor != replicas:
            notices.append(f"{topic.name}: replication factor {found.replication_factor},"
                           f" declares {replicas} (engine does not move replicas: use"
                           " kafka-reassign-partitions)")
        for key, value in wanted.configs.items():
            current = found.configs.get(key)
            if not same_value(current, value):
                changes.append(SetConfig(topic.name, key, current, value))
    return Plan(tuple(changes), tuple(notices), topics=len(declared))


def same_value(current: str | None, wanted: str) -> bool:
    """Kafka's stored value equals the declared one (list values in any order)."""
    if current is None:
        return False
    if "," in wanted or "," in current:
        return _items(current) == _items(wanted)
    return current.strip() == wanted.strip()


def _items(value: str) -> set[str]:
    return {item.strip() for item in value.split(",") if item.strip()}
