"""All listeners of one run: ``connections`` per active subscription group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.connection.assignment_watch import GroupHolding
from engine.connection.listener import Listener
from engine.transactions.producers import BuildLocks

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.jobs_queue import JobsQueue
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup


class ListenersBatch(list[Listener]):
    """Builds the listeners; each one's state changes call ``on_change`` (the server's wake-ups).

    A subscription group runs ``settings.connections_per_group`` listeners, each with its own
    connection: members of the consumer group that share its partitions.
    """

    def __init__(self, groups: Sequence[SubscriptionGroup], jobs_queue: JobsQueue,
                 monitor: Monitor, settings: Settings, producer: Producer,
                 on_change: Callable[[], None]) -> None:
        count = settings.connections_per_group
        build_locks = BuildLocks()  # one per app: its listeners share transactional ids

        def connections(group: SubscriptionGroup) -> list[Listener]:
            holding = GroupHolding(count)
            return [Listener(group.connection(index + 1, count), jobs_queue, monitor, settings,
                             producer, holding=(holding, index) if count > 1 else None,
                             build_locks=build_locks)
                    for index in range(count)]

        super().__init__(listener for group in groups for listener in connections(group))
        for listener in self:
            listener.status.watch(on_change)
