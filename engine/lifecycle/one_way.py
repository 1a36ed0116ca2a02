"""A one-way state machine: an explicit table of forward moves, each move announced once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, Generic, TypeVar

from transitions import Machine, State

S = TypeVar("S", bound=Enum)

Table = Mapping[S, tuple[S, ...]]
"""For each state, the states it may move to (every one of them later in the Enum)."""


class _QuietState(State):
    """A state that does not log each entry and exit at INFO (transitions' default does)."""

    def enter(self, event_data: Any) -> None:
        event_data.machine.callbacks(self.on_enter, event_data)

    def exit(self, event_data: Any) -> None:
        event_data.machine.callbacks(self.on_exit, event_data)


class _Machine(Machine):
    """transitions' ``Machine`` without an INFO line per callback.

    The engine announces moves itself, and an app logging at INFO must not drown; nothing
    global (no logger level) is touched. Thread safety is the owner's lock, held around every
    trigger (a plain ``Machine`` under one lock costs less than ``LockedMachine``'s
    per-attribute locking).
    """

    state_cls = _QuietState

    def callbacks(self, funcs: Iterable[Any], event_data: Any) -> None:
        for func in funcs:
            self.callback(func, event_data)


class OneWayMachine(Generic[S]):
    """Owns a private ``transitions`` machine over an Enum of states and a table of moves.

    The table is the machine's only transitions, enforced: a request for a state that is not
    a move out of the current one (an earlier state, the same one, or one that is not in the
    table) is ignored and returns False. Every entered state is announced once, in order,
    while the lock is held, so announcements never interleave. ``initial`` (the first state
    by default) is where the machine starts, unannounced.
    """

    def __init__(self, states: type[S], table: Table[S], announce: Callable[[S, S], None],
                 initial: S | None = None) -> None:
        self._order: tuple[S, ...] = tuple(states)
        self._table = _checked(self._order, table)
        self._announce = announce
        self._watchers: list[Callable[[], None]] = []
        self._by_value = {state.value: state for state in self._order}
        self._rank = {state: index for index, state in enumerate(self._order)}
        self.state: S = self._order[0] if initial is None else initial
        self._lock = threading.RLock()
        self._machine = _Machine(
            model=self, states=[state.value for state in self._order],
            initial=self.state.value, transitions=_transitions(self._table),
            auto_transitions=False, after_state_change=self._entered,
            model_attribute="_machine_state", send_event=True,
        )

    def request(self, target: S) -> bool:
        """Move to ``target`` if the table allows it from here; False (and no change) if not."""
        with self._lock:
            if target not in self._table.get(self.state, ()):
                return False
            trigger: Callable[[], bool] = getattr(self, _trigger(target))
            return bool(trigger())

    def reached(self, state: S) -> bool:
        """Whether the current state is ``state`` or a later one (lock-free read)."""
        return self._rank[self.state] >= self._rank[state]

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments) after every announced change."""
        self._watchers.append(callback)

    @property
    def lock(self) -> threading.RLock:
        """The machine's reentrant lock, for callers that must read and act atomically."""
        return self._lock

    def _entered(self, event: Any) -> None:
        previous = self.state
        self.state = self._by_value[event.transition.dest]
        self._announce(self.state, previous)
        for callback in self._watchers:
            callback()


def _checked(order: tuple[S, ...], table: Table[S]) -> dict[S, tuple[S, ...]]:
    """The table, after making sure every move goes forward (one way)."""
    rank = {state: index for index, state in enumerate(order)}
    for source, targets in table.items():
        backwards = [t for t in targets if rank[t] <= rank[source]]
        if backwards:
            raise ValueError(f"{source.value} -> {backwards[0].value} does not move forward")
    return dict(table)


def _transitions(table: Table[S]) -> list[dict[str, Any]]:
    """One trigger per target state, from every source the table allows."""
    sources: dict[S, list[str]] = {}
    for source, targets in table.items():
        for target in targets:
            sources.setdefault(target, []).append(str(source.value))
    return [{"trigger": _trigger(target), "source": names, "dest": target.value}
            for target, names in sources.items()]


def _trigger(state: Enum) -> str:
    return f"_to_{state.value}"
