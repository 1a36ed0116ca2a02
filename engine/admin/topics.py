"""Declared topics against the cluster: plan, create, repartition, align, migrate, delete.

Each operation returns the changes it made, in order, or raises ``AdminError`` whose
``problems`` say what went wrong (one line each, with a hint) and whose ``done`` holds what
was changed anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.admin.changes import AddPartitions, Change, CreateTopic, Plan, SetConfig
from engine.admin.cluster import AdminResult, Cluster
from engine.admin.offsets import watermarks
from engine.admin.planning import plan_for
from engine.admin.subject import AdminSubject
from engine.errors import AdminError
from engine.routing.declared_topics import DeclaredTopic
from engine.routing.selection import Selection

TIMEOUT = 30.0  # seconds each admin request may take


def plan(app: AdminSubject, selection: Selection | None = None, *,
         timeout: float = TIMEOUT) -> Plan:
    """What ``migrate`` would change (and what it never changes); changes nothing."""
    declared = app.declared_topics(selection)
    return _plan(Cluster(app.settings.kafka, timeout), declared)


def create(app: AdminSubject, selection: Selection | None = None, *,
           timeout: float = TIMEOUT) -> tuple[Change, ...]:
    """Create the declared topics the cluster lacks."""
    return _apply(app, selection, timeout, [(CreateTopic, Cluster.create)])


def repartition(app: AdminSubject, selection: Selection | None = None, *,
                timeout: float = TIMEOUT) -> tuple[Change, ...]:
    """Add partitions up to the declared counts (partitions are never removed)."""
    return _apply(app, selection, timeout, [(AddPartitions, Cluster.add_partitions)])


def align(app: AdminSubject, selection: Selection | None = None, *,
          timeout: float = TIMEOUT) -> tuple[Change, ...]:
    """Set every declared topic config that differs on the cluster (incremental alter)."""
    return _apply(app, selection, timeout, [(SetConfig, Cluster.set_configs)])


def migrate(app: AdminSubject, selection: Selection | None = None, *,
            timeout: float = TIMEOUT) -> tuple[Change, ...]:
    """``create``, then ``repartition``, then ``align``, each on a fresh look at the cluster."""
    steps: list[tuple[type[Any], _Step]] = [
        (CreateTopic, Cluster.create), (AddPartitions, Cluster.add_partitions),
        (SetConfig, Cluster.set_configs)]
    return _apply(app, selection, timeout, steps)


def delete(app: AdminSubject, selection: Selection | None = None, *,
           timeout: float = TIMEOUT) -> tuple[Change, ...]:
    """Delete the declared topics that exist, with their messages (no undo)."""
    cluster = Cluster(app.settings.kafka, timeout)
    return _finish(cluster.delete(existing(app, selection, cluster)))


def existing(app: AdminSubject, selection: Selection | None = None, cluster: Cluster | None = None,
             *, timeout: float = TIMEOUT) -> list[str]:
    """The declared topics the cluster holds (what ``delete`` would delete)."""
    cluster = cluster or Cluster(app.settings.kafka, timeout)
    names = [topic.name for topic in app.declared_topics(selection)]
    return [name for name, found in cluster.observe(names).items() if found is not None]


@dataclass(frozen=True)
class TopicInfo:
    """One topic on the cluster: partitions, replication factor, configs, watermarks."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]
    watermarks: dict[int, tuple[int, int]]  # partition -> (low, high)


def topic_info(app: AdminSubject, name: str, *, timeout: float = TIMEOUT) -> TopicInfo:
    """What the cluster holds for ``name`` (declared or not); ``AdminError`` when absent."""
    cluster = Cluster(app.settings.kafka, timeout)
    found = cluster.observe([name])[name]
    if found is None:
        raise AdminError([f"{name}: no such topic on the cluster (hint: engine topics plan"
                          " TARGET shows what is declared and missing)"])
    marks = watermarks(cluster, {name: found.partitions})
    return TopicInfo(name, found.partitions, found.replication_factor, dict(found.configs),
                     {partition: marks[name, partition] for partition in range(found.partitions)})


_Step = Callable[[Cluster, Sequence[Any]], AdminResult]


def _plan(cluster: Cluster, declared: Sequence[DeclaredTopic]) -> Plan:
    return plan_for(declared, cluster.observe([topic.name for topic in declared]))


def _apply(app: AdminSubject, selection: Selection | None, timeout: float,
           steps: Sequence[tuple[type[Any], _Step]]) -> tuple[Change, ...]:
    declared = app.declared_topics(selection)
    cluster = Cluster(app.settings.kafka, timeout)
    done: list[Any] = []
    for kind, step in steps:
        made, problems = step(cluster, _plan(cluster, declared).of_kind(kind))
        done += made
        if problems:
            raise AdminError(problems, done)
    return tuple(done)


def _finish(result: AdminResult) -> tuple[Change, ...]:
    done, problems = result
    if problems:
        raise AdminError(problems, done)
    return tuple(done)
