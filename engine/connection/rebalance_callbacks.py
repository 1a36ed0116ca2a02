"""librdkafka's rebalance callbacks of one client: apply the change, record it, announce it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.connection.commits import Commits
    from engine.connection.rebalance import RebalanceTracker
    from engine.instrumentation.monitor import Monitor
    from engine.routing.subscription_group import SubscriptionGroup

Pairs = list[tuple[str, int]]
"""``(topic, partition)`` pairs, as the rebalance events carry them."""


class RebalancedClient(Protocol):
    """What the callbacks use of their client (``engine.connection.client.Client``)."""

    subscription_group: SubscriptionGroup
    monitor: Monitor
    pause_assigned: bool

    @property
    def kafka_consumer(self) -> Any: ...
    def commit(self, sync: bool) -> bool: ...


class RebalanceCallbacks:
    """``on_assign``, ``on_revoke`` and ``on_lost``, run by librdkafka inside a poll.

    They act on the client's current binding, not on their ``consumer`` argument: once a
    close let go of the binding, a callback librdkafka still runs inside ``close()`` ends
    as an error event instead.
    """

    def __init__(self, client: RebalancedClient, tracker: RebalanceTracker, commits: Commits,
                 sender: object) -> None:
        """``sender`` is who announces the rebalance events (the listener)."""
        self._client = client
        self._tracker = tracker
        self._commits = commits
        self._sender = sender
        kafka = client.subscription_group.kafka
        self._incremental = (
            "cooperative" in str(kafka.get("partition.assignment.strategy", ""))
            or kafka.get("group.protocol") == "consumer"
        )

    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions were given to this member."""
        self._rebalanced("rebalance.partitions_assigned", partitions, self.assigned)

    def on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions are taken away; what was processed can still be committed."""
        self._rebalanced("rebalance.partitions_revoked", partitions, self.revoked)

    def on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions are gone already (no commit can succeed)."""
        self._rebalanced("rebalance.partitions_lost", partitions, self.lost)

    def assigned(self, partitions: list[Any], pairs: Pairs) -> None:
        """Take the partitions, fetching (or, when quiet, paused).

        librdkafka keeps an application's pause across revoke and assign: a partition paused
        for back-off that comes back must be resumed, or nothing would ever resume it.
        """
        self._tracker.assigned(pairs)
        self._commits.assigned()
        binding = self._client.kafka_consumer
        (binding.incremental_assign if self._incremental else binding.assign)(partitions)
        if self._client.pause_assigned:
            binding.pause(partitions)
        else:
            binding.resume(partitions)

    def revoked(self, partitions: list[Any], pairs: Pairs) -> None:
        """Commit what was processed before the partitions move, then record them gone."""
        self._client.commit(sync=True)
        self._tracker.revoked(pairs, lost=False)

    def lost(self, partitions: list[Any], pairs: Pairs) -> None:
        """Record the partitions lost."""
        self._tracker.revoked(pairs, lost=True)

    def _rebalanced(self, event: str, partitions: list[Any],
                    apply: Callable[[list[Any], Pairs], None]) -> None:
        """Never raises into librdkafka: our failures become events."""
        client = self._client
        group = client.subscription_group
        try:
            pairs = [(p.topic, p.partition) for p in partitions]
            apply(partitions, pairs)
            client.monitor.instrument(event, self._sender, subscription_group=group.id,
                                      consumer_group=group.consumer_group, partitions=pairs)
        except Exception as error:  # noqa: BLE001 - must not propagate into librdkafka
            client.monitor.instrument("error.occurred", client, type="callbacks.rebalance.error",
                                      error=error, subscription_group=group.id)
