"""The monitor: one blinker namespace per app, an event registry, shielded dispatch."""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from blinker import ANY, NamedSignal, Namespace

from engine.errors import UnknownEventError
from engine.instrumentation.events import EVENT_NAMES

log = logging.getLogger("engine.monitor")

Receiver = Callable[..., Any]
R = TypeVar("R", bound=Receiver)
SubscriberT = TypeVar("SubscriberT")

_EVENT_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_ERROR_EVENT = "error.occurred"


class Monitor:
    """Registry of known events and the blinker signals behind them, private to one app.

    Receivers are held strongly and called in subscription order on the instrumenting thread.
    A receiver that raises is logged and reported as ``error.occurred`` (type
    ``monitor.subscriber.error``); it never reaches the instrumenting code.
    """

    def __init__(self, owner: object = None, events: Iterable[str] = EVENT_NAMES) -> None:
        self._owner = owner if owner is not None else self
        self._namespace = Namespace()
        self._signals: dict[str, NamedSignal] = {}
        self._lock = threading.Lock()
        for name in events:
            self.register_event(name)

    @property
    def events(self) -> tuple[str, ...]:
        """Every registered event name, in registration order."""
        return tuple(self._signals)

    def register_event(self, name: str) -> None:
        """Add a custom event to the registry; registering a known name is a no-op."""
        if not isinstance(name, str) or not _EVENT_NAME.match(name):
            raise ValueError(
                f"invalid event name {name!r}: use dotted lowercase words, e.g. 'orders.rejected'"
            )
        with self._lock:
            if name not in self._signals:
                self._signals[name] = self._namespace.signal(name)

    def signal(self, name: str) -> NamedSignal:
        """The blinker signal behind a registered event."""
        try:
            return self._signals[name]
        except KeyError:
            raise self._unknown(name) from None

    def listening(self, name: str) -> bool:
        """Whether anybody listens to an event (lets hot code skip building a payload)."""
        return bool(self.signal(name).receivers)

    @overload
    def subscribe(self, target: str, *, sender: object = ANY) -> Callable[[R], R]: ...
    @overload
    def subscribe(self, target: str, receiver: R, *, sender: object = ANY) -> R: ...
    @overload
    def subscribe(self, target: SubscriberT) -> SubscriberT: ...

    def subscribe(self, target: object, receiver: Receiver | None = None, *,
                  sender: object = ANY) -> Any:
        """Subscribe a receiver to an event name, or an object by its ``on_<event>`` methods.

        ``subscribe("x.y")`` returns a decorator; ``subscribe("x.y", fn)`` connects ``fn``;
        ``subscribe(obj)`` connects every ``on_x_y`` method of ``obj`` and returns ``obj``.
        ``sender=`` limits a receiver to events sent by that object (blinker's filter).
        """
        if isinstance(target, str):
            signal = self.signal(target)
            if receiver is None:
                return lambda fn: self._connect(signal, fn, sender)
            return self._connect(signal, receiver, sender)
        if receiver is not None:
            raise TypeError("subscribe(obj) takes no receiver; pass an event name first")
        self._subscribe_object(target)
        return target

    def unsubscribe(self, target: object) -> None:
        """Disconnect a receiver function, or every method of an object subscriber."""
        for signal in self._signals.values():
            for receiver in tuple(signal.receivers.values()):
                if receiver is target or getattr(receiver, "__self__", None) is target:
                    signal.disconnect(receiver)

    def instrument(self, name: str, /, sender: object = None, **payload: Any) -> None:
        """Send an event now to every receiver; an event nobody listens to costs a lookup."""
        signal = self._signals.get(name)
        if signal is None:
            raise self._unknown(name)
        if signal.receivers:
            self._dispatch(signal, self._owner if sender is None else sender, payload)

    @contextmanager
    def measure(self, name: str, /, sender: object = None, **payload: Any) -> Iterator[None]:
        """Run a block, then send the event with ``time`` (seconds); not sent if it raises."""
        self.signal(name)
        started = time.perf_counter()
        yield
        payload["time"] = time.perf_counter() - started
        self.instrument(name, sender, **payload)

    def _dispatch(self, signal: NamedSignal, sender: object, payload: dict[str, Any]) -> None:
        """Call the receivers for ``sender`` in subscription order.

        blinker's own ``receivers_for`` yields in a set's order, so its sender filter is
        applied to the ordered receivers instead.
        """
        receivers: Iterable[Receiver] = _live(tuple(signal.receivers.values()))
        if len(getattr(signal, "_by_sender", (0, 0))) > 1:  # a receiver is limited to a sender
            wanted = {id(receiver) for receiver in signal.receivers_for(sender)}
            receivers = [r for r in receivers if id(r) in wanted]
        for receiver in receivers:
            try:
                receiver(sender, **payload)
            except Exception as error:  # noqa: BLE001 - receivers must never break the engine
                self._report_receiver_error(signal.name, receiver, error)

    def _report_receiver_error(self, name: str, receiver: Receiver, error: Exception) -> None:
        log.exception("receiver %r of %r raised", receiver, name)
        if name != _ERROR_EVENT:
            self.instrument(
                _ERROR_EVENT, self, type="monitor.subscriber.error", error=error,
                event=name, receiver=receiver,
            )

    def _connect(self, signal: NamedSignal, receiver: R, sender: object = ANY) -> R:
        if not callable(receiver):
            raise TypeError(f"receiver for {signal.name!r} is not callable: {receiver!r}")
        if _is_async(receiver):
            # blinker would call it and drop the coroutine: the receiver would never run
            raise TypeError(
                f"receiver {getattr(receiver, '__qualname__', receiver)!r} for {signal.name!r}"
                " is async def: events are synchronous blinker signals (an async consumer's"
                " too, sent on the event loop's thread); use a plain def")
        signal.connect(receiver, sender=sender, weak=False)
        return receiver

    def _subscribe_object(self, subscriber: object) -> None:
        by_method = {"on_" + name.replace(".", "_"): name for name in self._signals}
        methods = [attr for attr in dir(subscriber) if attr.startswith("on_")]
        unknown = [attr for attr in methods if attr not in by_method]
        if unknown:
            raise self._unknown_method(unknown[0], by_method)
        if not methods:
            raise TypeError(f"{subscriber!r} has no on_<event> methods to subscribe")
        for attr in methods:
            self._connect(self._signals[by_method[attr]], getattr(subscriber, attr))

    def _unknown(self, name: str) -> UnknownEventError:
        return UnknownEventError(name, difflib.get_close_matches(name, self._signals, n=3))

    def _unknown_method(self, method: str, by_method: dict[str, str]) -> UnknownEventError:
        close = difflib.get_close_matches(method, by_method, n=3)
        return UnknownEventError(method, close)


def _is_async(receiver: Receiver) -> bool:
    """Whether calling ``receiver`` makes a coroutine or an async generator."""
    # both tests see through functools.partial; an object is async by its __call__
    if inspect.iscoroutinefunction(receiver) or inspect.isasyncgenfunction(receiver):
        return True
    if inspect.isroutine(receiver) or isinstance(receiver, functools.partial):
        return False
    call = type(receiver).__call__
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def _live(receivers: tuple[Any, ...]) -> Iterator[Receiver]:
    """Dereference weakly connected receivers (connected to the signal directly)."""
    for entry in receivers:
        receiver = entry() if isinstance(entry, weakref.ref) else entry
        if receiver is not None:
            yield receiver
