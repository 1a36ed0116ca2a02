"""The events a harness saw, in order, as the app's monitor sent them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.history import History


class Event(NamedTuple):
    """One event: its name, its payload keywords, and the object that sent it."""

    name: str
    payload: dict[str, Any]
    sender: Any


class EventLog(list[Event]):
    """A list of ``Event`` with lookups by name."""

    def names(self) -> list[str]:
        """Every event's name, in order."""
        return [event.name for event in self]

    def named(self, name: str) -> list[Event]:
        """The events called ``name``, in order."""
        return [event for event in self if event.name == name]


class EventRecorder:
    """Subscribes to every event of a monitor (but the app's own ``app.*``) into an EventLog."""

    def __init__(self, monitor: Monitor, log: EventLog) -> None:
        self._monitor = monitor
        self._log = log
        self._receivers: list[Callable[..., None]] = []

    def start(self) -> None:
        """Record from now on (events registered later are recorded too once restarted)."""
        for name in self._monitor.events:
            if not name.startswith("app."):
                receiver = self._receiver(name)
                self._monitor.subscribe(name, receiver)
                self._receivers.append(receiver)

    def stop(self) -> None:
        """Disconnect every receiver (the app may serve another harness)."""
        for receiver in self._receivers:
            self._monitor.unsubscribe(receiver)
        self._receivers.clear()

    def _receiver(self, name: str) -> Callable[..., None]:
        append = self._log.append

        def record(sender: Any, **payload: Any) -> None:
            append(Event(name, payload, sender))

        return record


class HistoryFeed:
    """Tells the history what only events say: dead-lettered messages, seeks and pauses."""

    def __init__(self, monitor: Monitor, history: History,
                 groups: tuple[SubscriptionGroup, ...]) -> None:
        self._monitor = monitor
        self._history = history
        self._groups = groups
        self._receivers: list[Callable[..., None]] = []

    def start(self) -> None:
        """Subscribe."""
        dead_lettered, sought = self._dead_lettered, self._sought
        self._receivers = [dead_lettered, sought]  # the very objects to unsubscribe later
        self._monitor.subscribe("dead_letter_queue.dispatched", dead_lettered)
        self._monitor.subscribe("consumer.consuming.seek", sought)
        self._monitor.subscribe("consumer.consuming.pause", sought)

    def stop(self) -> None:
        """Unsubscribe (the app may serve another harness)."""
        for receiver in self._receivers:
            self._monitor.unsubscribe(receiver)
        self._receivers = []

    def _dead_lettered(self, sender: Any, **event: Any) -> None:
        names = [subscription_group.consumer_group for subscription_group in self._groups
                 if event["topic"] in subscription_group.topic_names]
        self._history.dead_lettered(sender, event["topic"], event["partition"],
                                    event["offset"], names)

    def _sought(self, sender: Any, **event: Any) -> None:
        self._history.sought(sender)
