"""Consumer groups seen from outside: lag per partition, and moving an inactive group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import ConsumerGroupState

from engine.admin.cluster import Cluster
from engine.admin.offsets import commit, committed, offsets_at, watermarks
from engine.admin.problems import FAILURES, problem
from engine.admin.subject import AdminSubject
from engine.admin.topics import TIMEOUT
from engine.errors import AdminError
from engine.routing.selection import Selection

_INACTIVE = (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD, ConsumerGroupState.UNKNOWN)


@dataclass(frozen=True)
class PartitionLag:
    """How far a consumer group is behind on one partition.

    ``committed`` is None when the group committed nothing there; ``lag`` then counts every
    message still in the partition (high - low watermark).
    """

    consumer_group: str
    topic: str
    partition: int
    committed: int | None
    high_watermark: int
    lag: int


def lag(app: AdminSubject, selection: Selection | None = None, *,
        timeout: float = TIMEOUT) -> tuple[PartitionLag, ...]:
    """Per consumer group of the app, routed topic and partition: committed vs high watermark."""
    cluster = Cluster(app.settings.kafka, timeout)
    routed = _routed(app, selection)
    topics = cluster.metadata().topics
    missing = sorted({t for names in routed.values() for t in names if t not in topics})
    if missing:
        raise AdminError([f"{name}: no such topic on the cluster (hint: engine topics create"
                          " TARGET creates declared topics)" for name in missing])
    counts = {t: len(topics[t].partitions) for names in routed.values() for t in names}
    marks = watermarks(cluster, counts)
    found = []
    for consumer_group, names in routed.items():
        keys = [(t, p) for t in names for p in range(counts[t])]
        offsets = committed(cluster, consumer_group, keys)
        for key in keys:
            low, high = marks[key]
            done = offsets.get(key)
            behind = high - (low if done is None else done)
            found.append(PartitionLag(consumer_group, key[0], key[1], done, high, max(behind, 0)))
    return tuple(found)


def seek_group(app: AdminSubject, group: str, topic: str, to: Mapping[int, int] | datetime, *,
               timeout: float = TIMEOUT) -> dict[int, int]:
    """Move ``group``'s committed offsets on ``topic``: per partition, or to a time.

    With a ``datetime``, every partition goes to its first message at or after that time (its
    end when there is none). Refused while the group has members: a running consumer would
    overwrite the offsets with its own. Returns partition -> offset as set.
    """
    known = [consumer_group.name for consumer_group in app.routes.consumer_groups]
    if group not in known:
        raise AdminError([f"no consumer group {group!r} in this app (known:"
                          f" {', '.join(known) or 'none'}) (hint: pass the name given to"
                          " app.consumer_group, or the app's client_id for its default group)"])
    cluster = Cluster(app.settings.kafka, timeout)
    found = cluster.metadata().topics.get(topic)
    if found is None or not found.partitions:
        raise AdminError([f"{topic}: no such topic on the cluster (hint: check the name)"])
    _refuse_active(cluster, group)
    if isinstance(to, datetime):
        offsets = offsets_at(cluster, topic, len(found.partitions), int(to.timestamp() * 1000))
    else:
        offsets = _checked(topic, to, len(found.partitions))
    commit(cluster, group, topic, offsets)
    return dict(offsets)


def _routed(app: AdminSubject, selection: Selection | None) -> dict[str, list[str]]:
    """Consumer group -> its routed topics (inactive ones too), after filters."""
    groups = app.routes.every_group(app.settings)
    selection = selection or Selection()
    selection.check(groups)
    routed: dict[str, list[str]] = {}
    for subscription_group in groups:
        for topic in subscription_group.topics:
            if selection.keeps(subscription_group, topic):
                routed.setdefault(subscription_group.consumer_group, []).append(topic.name)
    return routed


def _refuse_active(cluster: Cluster, consumer_group: str) -> None:
    future = cluster.client.describe_consumer_groups(
        [consumer_group], request_timeout=cluster.timeout)[consumer_group]
    try:
        description = future.result(cluster.timeout)
    except FAILURES as error:
        subject = f"consumer group {consumer_group!r}"
        raise AdminError([problem(subject, "describing it", error)]) from error
    if description.members or description.state not in _INACTIVE:
        raise AdminError([
            f"consumer group {consumer_group!r} is active (state {description.state.name},"
            f" {len(description.members)} member(s) listed): seek_group moves only a group"
            " with no running consumers (hint: stop its consumers first, then seek)"])


def _checked(topic: str, offsets: Mapping[int, int], count: int) -> dict[int, int]:
    problems = []
    for partition, offset in offsets.items():
        if isinstance(partition, bool) or not isinstance(partition, int) or not (
                0 <= partition < count):
            problems.append(f"{topic}: no partition {partition!r} (it has {count})"
                            " (hint: partitions count from 0)")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            problems.append(f"{topic}/{partition}: offset must be an integer >= 0"
                            f" (got {offset!r}) (hint: pass a datetime to seek by time)")
    if problems:
        raise AdminError(problems)
    return dict(offsets)
