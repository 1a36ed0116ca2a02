"""All listeners of one run: one per active subscription group."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from engine.connection.listener import Listener

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.jobs_queue import JobsQueue
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup


class ListenersBatch(Sequence[Listener]):
    """Builds and holds the listeners; each one's state changes wake the conductor."""

    def __init__(self, groups: Sequence[SubscriptionGroup], jobs_queue: JobsQueue,
                 monitor: Monitor, settings: Settings, producer: Producer,
                 on_change: object) -> None:
        self._listeners = [Listener(g, jobs_queue, monitor, settings, producer) for g in groups]
        for listener in self._listeners:
            listener.status.watch(on_change)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Listener:  # type: ignore[override]
        """The listener at ``index``."""
        return self._listeners[index]

    def __len__(self) -> int:
        """How many listeners."""
        return len(self._listeners)

    def __iter__(self) -> Iterator[Listener]:
        """Listeners in subscription group order."""
        return iter(self._listeners)

    def active(self) -> list[Listener]:
        """Listeners neither pending nor stopped."""
        return [listener for listener in self._listeners if listener.status.is_active]
