"""Notices a subscription group left without partitions for longer than ``assignment_timeout``."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.routing.subscription_group import SubscriptionGroup

log = logging.getLogger("engine.listener")


class GroupHolding:
    """Which connections of one subscription group hold partitions.

    Each connection's listener writes its own slot after its polls, so a connection left
    without partitions is not reported while another of its group holds some.
    """

    __slots__ = ("_holding",)

    def __init__(self, connections: int) -> None:
        self._holding = [False] * connections

    def told(self, index: int, assigned: bool) -> bool:
        """Record connection ``index``'s state; whether any connection holds partitions."""
        self._holding[index] = assigned
        return assigned or any(self._holding)


class AssignmentWatch:
    """Told after every poll whether its group holds partitions; speaks up when it long has not.

    A member that never gets partitions (other members hold them all, or the broker's group
    is stuck in a rebalance) polls happily and says nothing. Past ``timeout`` seconds without
    a partition: one warning in the log, and ``connection.listener.unassigned`` then and
    every ``timeout`` after, until partitions arrive (an info line says after how long).
    Times come from the listener's clock; a poll with partitions costs one comparison.

    A group of several connections (``holding``: theirs, and this one's index in it) is
    reported by its first connection only, and only while none of them holds a partition.
    """

    __slots__ = (
        "_due", "_holding", "_index", "_monitor", "_sender", "_since", "_subscription_group",
        "_timeout", "_warned",
    )

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor, sender: object,
                 timeout: float, holding: tuple[GroupHolding, int] | None = None) -> None:
        self._holding: GroupHolding | None = None
        self._index = 0
        if holding is not None:
            self._holding, self._index = holding
        self._subscription_group = subscription_group
        self._monitor = monitor
        self._sender = sender
        self._timeout = timeout
        self._since: float | None = None  # when the group was first seen without partitions
        self._due = math.inf
        self._warned = False

    def polled(self, assigned: bool, now: float) -> None:
        """After a poll at ``now``: ``assigned`` when this connection holds any partition."""
        if self._holding is not None:
            assigned = self._holding.told(self._index, assigned)
            if self._index:
                return  # the group's first connection speaks for all of them
        if assigned:
            if self._since is not None:
                self._arrived(now)
        elif self._since is None:
            self._since, self._due = now, now + self._timeout
        elif now >= self._due:
            self._overdue(now, now - self._since)

    def _overdue(self, now: float, waited: float) -> None:
        subscription_group = self._subscription_group
        topics = list(subscription_group.topic_names)
        if not self._warned:
            self._warned = True
            log.warning(
                "subscription group %s (consumer group %s, topics %s) has had no partitions"
                " for %.0f s (assignment_timeout): other members may hold them all, or the"
                " broker's group may be stuck in a rebalance", subscription_group.id,
                subscription_group.consumer_group,
                ", ".join(topics), waited,
            )
        self._due = now + self._timeout
        self._monitor.instrument("connection.listener.unassigned", self._sender,
                                 subscription_group=subscription_group.id,
                                 consumer_group=subscription_group.consumer_group, topics=topics,
                                 waited=waited)

    def _arrived(self, now: float) -> None:
        if self._warned and self._since is not None:
            log.info("subscription group %s: partitions assigned after %.0f s without",
                     self._subscription_group.id, now - self._since)
        self._since, self._due, self._warned = None, math.inf, False
