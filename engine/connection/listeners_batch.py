"""All listeners of one run: one per active subscription group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.connection.listener import Listener

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.jobs_queue import JobsQueue
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup


class ListenersBatch(list[Listener]):
    """Builds the listeners; each one's state changes call ``on_change`` (the server's wake-ups)."""

    def __init__(self, groups: Sequence[SubscriptionGroup], jobs_queue: JobsQueue,
                 monitor: Monitor, settings: Settings, producer: Producer,
                 on_change: Callable[[], None]) -> None:
        super().__init__(
            Listener(subscription_group, jobs_queue, monitor, settings, producer)
            for subscription_group in groups
        )
        for listener in self:
            listener.status.watch(on_change)
