"""A one-way state machine: states in a fixed order, moves only forward, each move announced."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from transitions.extensions import LockedMachine

# transitions logs every step of every transition at INFO; an app logging at INFO would drown
# in it. Quiet it unless the user configured that logger themselves.
if logging.getLogger("transitions").level == logging.NOTSET:
    logging.getLogger("transitions").setLevel(logging.WARNING)

S = TypeVar("S", bound=Enum)


class OneWayMachine(Generic[S]):
    """Owns a private ``transitions`` machine over an ordered Enum of states.

    A request for an earlier or the same state is ignored and returns False; any later state
    may be reached directly (skipping ahead). Every entered state is announced once, in order,
    while the machine lock is held, so announcements never interleave.
    """

    def __init__(self, states: type[S], announce: Callable[[S, S], None]) -> None:
        self._order: tuple[S, ...] = tuple(states)
        self._rank = {state: index for index, state in enumerate(self._order)}
        self._announce = announce
        self._watchers: list[Callable[[], None]] = []
        self.state: S = self._order[0]
        self._lock = threading.RLock()
        self._machine = LockedMachine(
            model=self,
            states=[state.value for state in self._order],
            initial=self._order[0].value,
            transitions=self._table(),
            auto_transitions=False,
            ignore_invalid_triggers=True,
            after_state_change=self._entered,
            model_attribute="_machine_state",
            send_event=True,
            machine_context=[cast(Any, self._lock)],
        )

    @property
    def order(self) -> tuple[S, ...]:
        """Every state, first to last."""
        return self._order

    def request(self, target: S) -> bool:
        """Move to ``target`` if it lies ahead; False (and no change) otherwise."""
        with self._lock:
            if self._rank[target] <= self._rank[self.state]:
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

    def _table(self) -> list[dict[str, Any]]:
        return [
            {
                "trigger": _trigger(target),
                "source": [state.value for state in self._order[:index]],
                "dest": target.value,
            }
            for index, target in enumerate(self._order)
            if index > 0
        ]

    def _entered(self, event: Any) -> None:
        previous = self.state
        self.state = self._by_value(event.transition.dest)
        self._announce(self.state, previous)
        for callback in self._watchers:
            callback()

    def _by_value(self, value: str) -> S:
        return next(state for state in self._order if state.value == value)


def _trigger(state: Enum) -> str:
    return f"_to_{state.value}"
